"""Integration tokens at the intake: whatever bytes arrive, 401/403 problem+json naming the header."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from services.intake import views
from shared.settings import Settings
from tests.unit.intake_http.test_intake_app import CHAT, TOKENS, FakeProducer, serve
from tests.unit.raw_http import raw_request

_BODY = b'{"session_id": "s-1", "text": "hello"}'


@pytest.fixture
async def client(aiohttp_client: Any) -> tuple[TestClient, FakeProducer]:
    producer = FakeProducer()
    settings = Settings(service="intake", intake_tokens=TOKENS)
    return await serve(aiohttp_client, settings, producer), producer


async def _raw_post(client: TestClient, authorization: bytes) -> tuple[int, bytes]:
    return await raw_request(
        client,
        b"POST /v1/inbound/chat HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nAuthorization: " + authorization + b"\r\n"
        b"Content-Length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY,
    )


@pytest.mark.parametrize(
    "authorization",
    [b"Bearer caf\xe9", b"Bearer \xff\xfe", "Bearer 令牌".encode(), b"Bearer all\xe9"],
)
async def test_a_non_ascii_token_is_401(client: Any, authorization: bytes) -> None:
    http, producer = client
    for _ in range(2):  # the second time past the accepted-token cache too
        status, rest = await _raw_post(http, authorization)
        assert status == 401
        assert b"application/problem+json" in rest
        assert b'"field":"Authorization"' in rest
    assert producer.records == []


async def test_the_raw_path_accepts_a_valid_token(client: Any) -> None:
    http, producer = client
    status, _ = await _raw_post(http, b"Bearer all")
    assert status == 202
    assert len(producer.records) == 1


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer nope"}, 401),
        ({"Authorization": "Basic YWxsOg=="}, 401),
        ({"Authorization": "Bearer chatonly"}, 403),
    ],
)
async def test_auth_problems_name_the_authorization_header(
    client: Any, headers: dict[str, str], status: int
) -> None:
    http, _ = client
    path = "/v1/inbound/phone" if status == 403 else "/v1/inbound/chat"
    resp = await http.post(path, json=CHAT, headers=headers)
    assert resp.status == status
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["field"] == "Authorization"


async def test_a_body_that_stops_arriving_is_a_408(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "BODY_TIMEOUT_S", 0.2)
    http, producer = client
    reader, writer = await asyncio.open_connection(http.host, http.port)
    writer.write(
        b"POST /v1/inbound/chat HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer all\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n" + b'{"session_id"'
    )
    try:  # the answer comes while the connection is still open (the server lingers after)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        body = await reader.readexactly(length)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"did not arrive" in body and producer.records == []
