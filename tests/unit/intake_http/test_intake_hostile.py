"""What a QA probe of the running intake found: nesting past msgspec's limit, compressed bodies,
a trailing newline slipping through patterns, a 415 that echoed its header."""

from __future__ import annotations

import asyncio
import gzip
import logging
import zlib
from typing import Any

import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from services.intake.app import Intake
from shared.http import REQUEST_SECONDS
from shared.serving import server_runner
from shared.settings import Settings
from tests.unit.intake_http.test_intake_app import TOKENS, FakeProducer, serve

JSON = {"Authorization": "Bearer all", "Content-Type": "application/json"}
CHAT = {"session_id": "hostile-1", "message_id": "m-1", "text": "我的钱包被偷了"}
DEEP = b"[" * 2000 + b"]" * 2000


@pytest.fixture
async def client(aiohttp_client: Any) -> tuple[TestClient, FakeProducer]:
    producer = FakeProducer()
    settings = Settings(service="intake", intake_tokens=TOKENS, max_json_bytes=64 * 1024)
    return await serve(aiohttp_client, settings, producer), producer


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/inbound/chat", b'{"session_id":"s","text":"t","x":' + DEEP + b"}"),
        ("/v1/inbound/email", b'{"message_id":"<m@x>","from":"a@b.cn","x":' + DEEP + b"}"),
        (
            "/v1/inbound/chat/batch",
            b'{"messages":[{"session_id":"s","text":"t","x":' + DEEP + b"}]}",
        ),
        (
            "/v1/inbound/chat/batch",
            b'{"x":' + DEEP + b',"messages":[{"session_id":"s","text":"t"}]}',
        ),
    ],
    ids=["chat", "email", "batch item", "batch envelope"],
)
async def test_nesting_past_the_decoders_limit_is_a_400(
    client: Any, path: str, body: bytes
) -> None:
    http, producer = client
    resp = await http.post(path, data=body, headers=JSON)
    assert resp.status == 400
    problem = await resp.json(content_type="application/problem+json")
    assert problem["field"] == "body" and "nested too deeply" in problem["detail"]
    assert producer.records == []


@pytest.mark.parametrize(
    ("coding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)]
)
async def test_a_compressed_body_is_the_same_message_as_a_plain_one(
    client: Any, coding: str, compress: Any
) -> None:
    http, producer = client
    body = msgspec.json.encode({**CHAT, "padding": "a" * 40_000})
    plain = await http.post("/v1/inbound/chat", data=body, headers=JSON)
    packed = await http.post(
        "/v1/inbound/chat", data=compress(body), headers={**JSON, "Content-Encoding": coding}
    )
    assert plain.status == packed.status == 202
    assert (await plain.json())["message_id"] == (await packed.json())["message_id"]
    assert len(producer.records) == 1  # the second is the duplicate it is


async def test_the_size_limit_is_the_decoded_bodys(client: Any) -> None:
    http, producer = client
    body = msgspec.json.encode({**CHAT, "padding": "a" * 200_000})  # 64 KiB allowed
    packed = gzip.compress(body)
    assert len(packed) < 64 * 1024
    resp = await http.post(
        "/v1/inbound/chat", data=packed, headers={**JSON, "Content-Encoding": "gzip"}
    )
    assert resp.status == 413
    assert producer.records == []


@pytest.mark.parametrize(
    ("coding", "body"), [("deflate", b"garbage!!"), ("gzip", b"\x1f\x8b\x08\x00garbagegarbage")]
)
async def test_a_body_that_does_not_decode_is_a_400_that_closes_the_connection(
    client: Any, coding: str, body: bytes
) -> None:
    http, producer = client
    resp = await http.post(
        "/v1/inbound/chat", data=body, headers={**JSON, "Content-Encoding": coding}
    )
    assert resp.status == 400
    assert resp.headers["Connection"] == "close"
    problem = await resp.json(content_type="application/problem+json")
    assert problem["field"] == "body" and "Content-Encoding" in problem["detail"]
    assert producer.records == []


@pytest.mark.parametrize(
    ("path", "message", "field"),
    [
        (
            "/v1/inbound/social",
            {
                "platform": "weibo\n",
                "post_id": "p",
                "author": {"handle": "h"},
                "text": "hi",
                "visibility": "public",
            },
            "$.platform",
        ),
        ("/v1/inbound/chat", {**CHAT, "locale": "zh\n"}, "$.locale"),
        (
            "/v1/inbound/phone",
            {
                "call_id": "c",
                "from": "13812345678",
                "started_at": "2026-12-01T10:00:00+08:00",
                "ivr_selection": ["1", "#\n"],
                "transcript": "hi",
            },
            "$.ivr_selection[1]",
        ),
        (
            "/v1/inbound/phone",
            {
                "call_id": "c",
                "from": "13812345678",
                "started_at": "2026-12-01T10:00:00+08:00",
                "language": "en\n",
                "transcript": "hi",
            },
            "$.language",
        ),
    ],
    ids=["platform", "locale", "ivr digit", "language"],
)
async def test_a_trailing_newline_does_not_pass_a_pattern(
    client: Any, path: str, message: dict[str, Any], field: str
) -> None:
    """Python's ``$`` matches before a final newline: "weibo\\n" was a second platform, and
    the same post under it a second message."""
    http, producer = client
    resp = await http.post(path, data=msgspec.json.encode(message), headers=JSON)
    assert resp.status == 422
    problem = await resp.json(content_type="application/problem+json")
    assert problem["field"] == field
    assert "\\Z" not in problem["detail"]  # the pattern as the OpenAPI document spells it
    assert producer.records == []


async def test_a_415_does_not_echo_the_content_type(client: Any) -> None:
    http, _ = client
    given = "text/probe-xyz@example.com; x=tok-PROBE-SECRET"
    resp = await http.post("/v1/inbound/chat", data=b"{}", headers={**JSON, "Content-Type": given})
    assert resp.status == 415
    text = await resp.text()
    assert "probe-xyz" not in text and "PROBE-SECRET" not in text
    assert (await resp.json(content_type="application/problem+json"))["field"] == "Content-Type"


@pytest.mark.parametrize("expect", [False, True], ids=["plain", "expect 100-continue"])
async def test_a_client_that_leaves_mid_body_is_no_server_error(
    caplog: pytest.LogCaptureFixture, expect: bool
) -> None:
    """Served as ``switchboard intake`` serves (handlers run on when their client leaves):
    the read fails with a ConnectionResetError, which was a logged 500."""
    settings = Settings(service="intake", intake_tokens=TOKENS)
    intake = Intake(settings, FakeProducer())  # type: ignore[arg-type]
    runner = server_runner(intake.handle)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    caplog.set_level(logging.INFO)
    before = _server_errors()
    head = (
        b"POST /v1/inbound/chat HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer all\r\n"
        b"Content-Type: application/json\r\nContent-Length: 50\r\n"
    )
    try:
        reader, writer = await asyncio.open_connection(host, port)
        if expect:
            writer.write(head + b"Expect: 100-continue\r\n\r\n")
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 100")
        else:
            writer.write(head + b'\r\n{"se')
            await writer.drain()
        writer.close()
        await asyncio.sleep(0.3)
    finally:
        await runner.cleanup()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert _server_errors() == before


def _server_errors() -> float:
    """Requests to the chat route answered 500 so far (the histogram is process-wide)."""
    return sum(
        sample.value
        for metric in REQUEST_SECONDS.collect()
        for sample in metric.samples
        if sample.name.endswith("_count")
        and sample.labels.get("route") == "/v1/inbound/chat"
        and sample.labels.get("code") == "500"
    )


@pytest.mark.parametrize("coding", ["x-gzip", "compress", "gzip, gzip"])
async def test_a_content_coding_the_intake_does_not_decode_is_a_415(
    client: Any, coding: str
) -> None:
    http, producer = client
    resp = await http.post(
        "/v1/inbound/chat",
        data=gzip.compress(msgspec.json.encode(CHAT)),
        headers={**JSON, "Content-Encoding": coding},
    )
    assert resp.status == 415
    assert resp.headers["Accept-Encoding"] == "gzip, deflate"
    assert (await resp.json(content_type="application/problem+json"))["field"] == "Content-Encoding"
    assert producer.records == []
