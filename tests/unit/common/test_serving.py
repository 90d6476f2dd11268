"""Requests aiohttp cannot parse, on both ways the services serve: problem+json 400s that quote
nothing of what was sent, in the answer or in the log."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from shared.serving import app_runner, server_runner

CARD = b"6222020200112233445"
TOKEN = b"integration-secret-token"
HEAD = b"POST /v1/inbound/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"

UNPARSABLE = {
    "request line too long": b"GET /v1/tickets?card=" + CARD + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",
    "control character in a header": HEAD + b"Authorization: Bearer " + TOKEN + b"\x01\r\n\r\n",
    "header line too long": HEAD + b"X-Note: " + CARD + b"b" * 9000 + b"\r\n\r\n",
    "two content lengths": HEAD + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nabcde",
    "bad chunk size": HEAD
    + b"Transfer-Encoding: chunked\r\n\r\nZZ"
    + CARD
    + b"\r\nabc\r\n0\r\n\r\n",
    "not HTTP": b"HELLO " + CARD + b"\r\n\r\n",
}


async def _ok(request: web.BaseRequest) -> web.Response:
    if request.path == "/read":
        try:
            await request.read()
        except HttpProcessingError:
            return web.Response(status=400, text="broken body")
    return web.Response(text="ok")


def _low_level() -> web.BaseRunner:
    return server_runner(_ok)


def _application() -> web.BaseRunner:
    app = web.Application()
    app.router.add_post("/v1/inbound/chat", _ok)
    app.router.add_post("/read", _ok)
    return app_runner(app)


@pytest.fixture(params=[_low_level, _application], ids=["server", "application"])
async def address(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, int]]:
    monkeypatch.setattr("shared.serving.KEEPALIVE_TIMEOUT_S", 0.5)
    make: Callable[[], web.BaseRunner] = request.param
    runner = make()
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield host, port
    await runner.cleanup()


async def _send(address: tuple[str, int], raw: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(raw)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


@pytest.mark.parametrize("raw", UNPARSABLE.values(), ids=UNPARSABLE.keys())
async def test_an_unparsable_request_is_a_problem_that_quotes_nothing(
    address: tuple[str, int], raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = await _send(address, raw)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 400 " in head.split(b"\r\n")[0]
    assert b"Content-Type: application/problem+json" in head
    problem = json.loads(body)
    assert problem["status"] == 400 and problem["detail"].startswith("unreadable HTTP request (")
    for secret in (CARD, TOKEN):
        assert secret not in answer
        assert secret.decode() not in caplog.text
    [record] = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert record.levelno == logging.WARNING and record.exc_info is None


async def test_a_good_request_after_a_bad_connection_is_served(address: tuple[str, int]) -> None:
    await _send(address, UNPARSABLE["not HTTP"])
    answer = await _send(address, HEAD + b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"ok")


async def test_an_unread_body_that_does_not_decode_is_a_warning_not_an_error(
    address: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    """The handler answered without reading; aiohttp drains the body afterwards and meets the
    broken coding: the client's fault, said in one line."""
    caplog.set_level(logging.DEBUG)
    body = b"garbage!!" * 100
    head = HEAD + b"Content-Encoding: deflate\r\nContent-Length: %d\r\n\r\n" % len(body)
    answer = await _send(address, head + body)
    assert answer.startswith(b"HTTP/1.1 200 OK")
    await asyncio.sleep(0.1)
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert [(r.levelno, r.exc_info) for r in records] == [(logging.WARNING, None)]


@pytest.mark.parametrize(
    "sent",
    [b"", b"POST /v1/inb", HEAD + b"Content-Length: 2"],
    ids=["nothing", "half a request line", "headers without their end"],
)
async def test_a_connection_that_never_completes_a_request_head_is_closed(
    address: tuple[str, int], sent: bytes
) -> None:
    """Slowloris: without a timer from the start, each such connection held a socket for as
    long as the client liked (aiohttp's own default is an hour)."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(sent)
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, nothing answered
    finally:
        writer.close()


async def test_an_idle_kept_alive_connection_is_closed_after_its_timeout(
    address: tuple[str, int],
) -> None:
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(HEAD + b"Content-Length: 2\r\n\r\n{}")
        assert (await asyncio.wait_for(reader.readuntil(b"ok"), 5)).startswith(b"HTTP/1.1 200")
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()


async def test_a_body_whose_chunks_break_after_its_handler_started_fails_at_once(
    address: tuple[str, int],
) -> None:
    """aiohttp left the handler waiting for the rest of the body (until its own timeout) and
    queued the parse error as if it were the next request."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(b"POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b'3\r\n{"a\r\n')
        await writer.drain()
        await asyncio.sleep(0.1)  # the handler is reading
        writer.write(b"ZZ" + CARD + b"\r\nabc\r\n0\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 2)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 400") and answer.endswith(b"broken body")
