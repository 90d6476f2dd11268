"""``RawResponse`` on aiohttp's low-level server, byte for byte: keep-alive as aiohttp decides
it, HTTP/1.0, pipelining, and a client that left before its answer."""

from __future__ import annotations

import asyncio
import logging
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.client_exceptions import ClientConnectionResetError
from aiohttp.test_utils import RawTestServer, TestClient

from shared.raw_response import RawResponse, http_date

BODY = b'{"message_id":"\xe4\xb8\xad-1"}'


async def _answer(request: web.BaseRequest) -> web.StreamResponse:
    await request.read()
    if request.path == "/wait":
        await asyncio.sleep(0.2)
    return RawResponse(202, BODY, b"application/json").as_stream_response()


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient:
    http: TestClient = await aiohttp_client(RawTestServer(_answer))
    return http


async def _exchange(client: TestClient, head: bytes, *, read_until_close: bool) -> bytes:
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(head)
        await writer.drain()
        if read_until_close:
            return await asyncio.wait_for(reader.read(), 5)
        return await asyncio.wait_for(reader.readuntil(BODY), 5)
    finally:
        writer.close()


def _responses(raw: bytes) -> list[tuple[bytes, dict[bytes, bytes], bytes]]:
    """(status line, headers, body) of each response in ``raw``."""
    out = []
    while raw:
        head, _, raw = raw.partition(b"\r\n\r\n")
        status, *lines = head.split(b"\r\n")
        headers = dict(line.split(b": ", 1) for line in lines)
        length = int(headers[b"Content-Length"])
        out.append((status, headers, raw[:length]))
        raw = raw[length:]
    return out


async def test_the_aiohttp_client_reads_it_like_any_response(client: TestClient) -> None:
    resp = await client.post("/", data=b"x")
    assert resp.status == 202 and resp.reason == "Accepted"
    assert resp.content_type == "application/json"
    assert await resp.read() == BODY
    assert parsedate_to_datetime(resp.headers["Date"]).tzinfo is not None


async def test_pipelined_requests_are_answered_in_order_on_a_kept_connection(
    client: TestClient,
) -> None:
    request = b"POST /%d HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx"
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(b"".join(request % i for i in range(3)))
        raw = b""
        for _ in range(3):
            raw += await asyncio.wait_for(reader.readuntil(BODY), 5)
        writer.write(request % 4)  # still open after three answers
        raw += await asyncio.wait_for(reader.readuntil(BODY), 5)
    finally:
        writer.close()
    answers = _responses(raw)
    assert [status for status, _, _ in answers] == [b"HTTP/1.1 202 Accepted"] * 4
    for _, headers, body in answers:
        assert body == BODY
        assert set(headers) == {b"Content-Type", b"Content-Length", b"Date"}
        assert headers[b"Content-Length"] == str(len(BODY)).encode()


@pytest.mark.parametrize("version", [b"1.1", b"2.0"])
async def test_connection_close_is_honoured_and_said_in_1_1(
    client: TestClient, version: bytes
) -> None:
    """A later version is answered in 1.1 (RFC 9110 §2.5: not above what we conform to)."""
    raw = await _exchange(
        client,
        b"POST / HTTP/%s\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n" % version,
        read_until_close=True,
    )
    [(status, headers, body)] = _responses(raw)
    assert status == b"HTTP/1.1 202 Accepted" and body == BODY
    assert headers[b"Connection"] == b"close"


@pytest.mark.parametrize(
    ("connection", "expected"),
    [(b"", None), (b"Connection: keep-alive\r\n", b"keep-alive")],
)
async def test_http_1_0_is_answered_in_1_0_and_kept_alive_only_when_asked(
    client: TestClient, connection: bytes, expected: bytes | None
) -> None:
    head = b"POST / HTTP/1.0\r\n%sContent-Length: 0\r\n\r\n" % connection
    raw = await _exchange(client, head, read_until_close=expected is None)
    [(status, headers, body)] = _responses(raw)
    assert status == b"HTTP/1.0 202 Accepted" and body == BODY
    assert headers.get(b"Connection") == expected


async def test_a_client_gone_before_its_answer_costs_the_server_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As ``run_server`` serves: handlers are not cancelled when their client leaves, so the
    answer meets a closed connection."""
    answered: list[type[BaseException] | None] = []

    class Recorded(RawResponse):
        async def prepare(self, request: web.BaseRequest) -> None:
            try:
                await super().prepare(request)
            except ConnectionError as exc:
                answered.append(type(exc))
                raise
            answered.append(None)

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        await _answer(request)
        return Recorded(202, BODY, b"application/json").as_stream_response()

    runner = web.ServerRunner(web.Server(handler, access_log=None))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    caplog.set_level(logging.DEBUG)
    try:
        _, writer = await asyncio.open_connection(host, port)
        writer.write(b"POST /wait HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()
        await asyncio.sleep(0.4)  # the handler answers into the closed connection
        assert answered == [ClientConnectionResetError]
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        assert (await asyncio.wait_for(reader.readuntil(BODY), 5)).startswith(b"HTTP/1.1 202")
        writer.close()
    finally:
        await runner.cleanup()


def test_the_date_is_rfc_9110_and_follows_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shared.raw_response.time.time", lambda: 1_796_000_000.9)
    assert http_date() == b"Mon, 30 Nov 2026 00:53:20 GMT"
    monkeypatch.setattr("shared.raw_response.time.time", lambda: 1_796_000_001.0)
    assert http_date() == b"Mon, 30 Nov 2026 00:53:21 GMT"
