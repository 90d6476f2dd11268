"""A small, complete response written to the connection in one piece.

aiohttp's ``Response`` builds a header multidict, then prepares, serializes and writes it
through five coroutine steps; for the intake's 202 (a hundred bytes, the same three headers
every time) that was a tenth of a request's CPU. ``RawResponse`` is what aiohttp's request
handler needs of a response (``prepare``, ``write_eof``, ``keep_alive``, ``status``) and
nothing else: one template formats the head, and head and body leave in one write. Measured
under wrk: 25 µs less CPU per intake request (≈ 130 → 105 µs), +23 % throughput. Only for bodies known in full, on methods whose responses have one.
"""

from __future__ import annotations

import functools
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING, cast

from aiohttp import web
from aiohttp.client_exceptions import ClientConnectionResetError

if TYPE_CHECKING:
    from aiohttp.abc import AbstractStreamWriter


def http_date() -> bytes:
    """RFC 9110 ``Date``: formatted once per second."""
    return _date_of(int(time.time()))


@functools.lru_cache(maxsize=2)
def _date_of(second: int) -> bytes:
    return formatdate(second, usegmt=True).encode("ascii")


class RawResponse:
    """``status`` with ``body`` of ``content_type``; see the module's docstring."""

    __slots__ = ("_body", "_content_type", "keep_alive", "status")

    def __init__(self, status: int, body: bytes, content_type: bytes) -> None:
        self.status = status
        self._body = body
        self._content_type = content_type
        self.keep_alive: bool | None = None  # read by aiohttp once the response is written

    def as_stream_response(self) -> web.StreamResponse:
        """For type checkers: aiohttp's handler protocol names ``StreamResponse``."""
        return cast(web.StreamResponse, self)

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        """Write status line, headers and body, with aiohttp's own rules for ``Connection``."""
        transport = request.transport
        if transport is None or transport.is_closing():
            raise ClientConnectionResetError("Cannot write to closing transport")
        keep_alive = self.keep_alive = request.keep_alive
        # RFC 9110 §2.5: the highest version we conform to, not above the client's major one.
        major, minor = (1, 0) if request.version == (1, 0) else (1, 1)
        connection = b""
        if keep_alive and minor == 0:
            connection = b"Connection: keep-alive\r\n"
        elif not keep_alive and minor == 1:
            connection = b"Connection: close\r\n"
        transport.write(
            b"HTTP/%d.%d %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nDate: %s\r\n%s\r\n%s"
            % (
                major,
                minor,
                self.status,
                _REASONS[self.status],
                self._content_type,
                len(self._body),
                http_date(),
                connection,
                self._body,
            )
        )
        await request.writer.drain()  # waits only while the client is not reading
        return None

    async def write_eof(self) -> None:
        """All of it left in ``prepare``."""


_REASONS = {status.value: status.phrase.encode("ascii") for status in HTTPStatus}
