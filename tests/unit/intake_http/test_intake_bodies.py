"""Bodies at the edges: read whole however they arrive, sized by what Kafka accepts, and the
status each parser error carries (400 unreadable, 422 a field, 415 with what is accepted)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from aiohttp.test_utils import TestClient

from shared.models import InboundMessage
from shared.settings import Settings
from tests.unit.intake_http.test_intake_app import TOKENS, FakeProducer, serve

AUTH = {"Authorization": "Bearer all"}
JSON = {**AUTH, "Content-Type": "application/json"}
WIDE = "𝒵"  # four bytes in UTF-8


@pytest.fixture
async def client(aiohttp_client: Any) -> tuple[TestClient, FakeProducer]:
    producer = FakeProducer()
    settings = Settings(service="intake", intake_tokens=TOKENS, max_json_bytes=2 << 20)
    return await serve(aiohttp_client, settings, producer), producer


async def _chunks(body: bytes, size: int = 16_384) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_large_body_is_read_whole(client: Any, chunked: bool) -> None:
    http, producer = client
    text = WIDE * 99_000  # ~400 KB: arrives in many reads
    body = msgspec.json.encode({"session_id": f"big-{chunked}", "text": text})
    resp = await http.post(
        "/v1/inbound/chat", data=_chunks(body) if chunked else body, headers=JSON
    )
    assert resp.status == 202, await resp.text()
    [(_, _, value)] = producer.records
    assert msgspec.json.decode(value, type=InboundMessage).body == text


async def test_a_chunked_body_over_the_limit_is_413(client: Any) -> None:
    http, producer = client
    body = msgspec.json.encode({"session_id": "s", "text": "x" * (3 << 20)})
    resp = await http.post("/v1/inbound/chat", data=_chunks(body, 65_536), headers=JSON)
    assert resp.status == 413
    assert resp.content_type == "application/problem+json"
    assert producer.records == []


def _phone(attributes: int) -> dict[str, Any]:
    return {
        "call_id": "c-big",
        "from": "+8613800138000",
        "started_at": "2026-11-02T09:15:00+08:00",
        "transcript": WIDE * 99_999,
        "voicemail_text": WIDE * 99_999,
        "attributes": {f"k{i}": WIDE * 999 for i in range(attributes)},
    }


async def test_an_envelope_kafka_would_refuse_is_413_not_503(client: Any) -> None:
    http, producer = client
    big = io.BytesIO(msgspec.json.encode(_phone(50)))  # bytes this size make aiohttp warn
    resp = await http.post("/v1/inbound/phone", data=big, headers=JSON)
    assert resp.status == 413
    assert (await resp.json())["field"] == "body"
    assert producer.records == []
    batch = {"messages": [_phone(50), {**_phone(0), "call_id": "c-small"}]}
    resp = await http.post(
        "/v1/inbound/phone/batch", data=io.BytesIO(msgspec.json.encode(batch)), headers=JSON
    )
    assert resp.status == 200
    data = await resp.json()
    assert [r["status"] for r in data["results"]] == [422, 202]
    assert data["results"][0]["field"] == "$.messages[0]"
    assert len(producer.records) == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, "body"),
        (b"\xff\xfe", 400, "body"),
        (b"[]", 422, "$"),
        (b'{"session_id": 5, "text": "hi"}', 422, "$.session_id"),
    ],
)
async def test_status_is_the_parsers(client: Any, body: bytes, status: int, field: str) -> None:
    http, _ = client
    resp = await http.post("/v1/inbound/chat", data=body, headers=JSON)
    assert resp.status == status
    assert (await resp.json())["field"] == field


@pytest.mark.parametrize(
    ("path", "content_type", "allowed"),
    [
        ("/v1/inbound/chat", "text/plain", ["application/json"]),
        ("/v1/inbound/chat", "application/json; charset=latin-1", None),
        ("/v1/inbound/email", "text/plain", ["application/json", "message/rfc822"]),
        ("/v1/inbound/email/batch", "message/rfc822", ["application/json"]),
    ],
)
async def test_415_names_what_the_endpoint_accepts(
    client: Any, path: str, content_type: str, allowed: list[str] | None
) -> None:
    http, producer = client
    resp = await http.post(path, data=b"{}", headers={**AUTH, "Content-Type": content_type})
    assert resp.status == 415
    problem = await resp.json()
    assert problem["field"] == "Content-Type"
    if allowed is not None:
        assert problem["allowed"] == allowed
    assert producer.records == []


async def test_json_with_a_media_type_suffix_is_accepted(client: Any) -> None:
    http, _ = client
    body = msgspec.json.encode({"session_id": "s-suffix", "text": "hello"})
    headers = {**AUTH, "Content-Type": "application/vnd.switchboard.v1+json"}
    resp = await http.post("/v1/inbound/chat", data=body, headers=headers)
    assert resp.status == 202


async def test_unknown_channel_batch_is_404(client: Any) -> None:
    http, _ = client
    resp = await http.post("/v1/inbound/fax/batch", json={"messages": [{}]}, headers=AUTH)
    assert resp.status == 404
    assert (await resp.json())["field"] == "channel"


async def test_a_remembered_token_does_not_open_other_channels(client: Any) -> None:
    http, _ = client
    chat = {"session_id": "s-tok", "text": "hi"}
    only = {"Authorization": "Bearer chatonly"}
    assert (await http.post("/v1/inbound/chat", json=chat, headers=only)).status == 202
    assert (await http.post("/v1/inbound/chat", json=chat, headers=only)).status == 202
    assert (await http.post("/v1/inbound/phone", json={}, headers=only)).status == 403
    wrong = {"Authorization": "Bearer chatonlyx"}
    assert (await http.post("/v1/inbound/chat", json=chat, headers=wrong)).status == 401
