"""How the three services serve HTTP: uvloop, SIGTERM-graceful, and requests aiohttp cannot
parse answered as problem+json.

aiohttp answers a request line or header it cannot parse (over 8,190 bytes, a control
character, not HTTP at all) with a text/plain 400 that quotes the raw line it refused, and
logs the parser's error, quoting it again, at ERROR. That line can be an integration's
``Authorization`` header or a card number in a query string. Here such a request is a
problem+json 400 naming only the kind of error, and its WARNING log line says no more. The
same request handler fails a body whose framing breaks once its handler is reading it (aiohttp
left the handler waiting), and every connection without a request in progress is closed after
``KEEPALIVE_TIMEOUT_S``. aiohttp is pinned: these overrides use its request handler's internals.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler, _ErrInfo

from shared.problem import problem

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
SHUTDOWN_TIMEOUT_S = 15.0  # for the requests in progress, then the cleanups run
# A connection without a request in progress is closed after this long: idle between requests,
# or still sending a request's head (aiohttp's timer runs from the connection's start, so a
# client trickling a request line a byte at a time is cut off too). aiohttp's default, an
# hour, is meant to outlast a load balancer's idle timeout; one in front of these services
# must close idle connections sooner than this (ingress-nginx: 60 s).
KEEPALIVE_TIMEOUT_S = 75.0


class _ProblemRequestHandler(RequestHandler):
    def data_received(self, data: bytes) -> None:
        """A body whose framing breaks (a bad chunk size) after its handler started: aiohttp
        queues the parser's error as the next request and leaves the handler waiting for the
        rest of a body that will not come (until its timeout). Fail the body instead: the
        handler answers 400, and closes."""
        queued = len(self._messages)
        super().data_received(data)
        request = self._current_request
        if request is None or len(self._messages) <= queued:
            return
        error, _ = self._messages[-1]
        if isinstance(error, _ErrInfo) and not request.content.is_eof():
            request.content.set_exception(error.exc)

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """A body the handler did not read, drained after its answer, that does not decode
        (Content-Encoding) is the client's fault, not the service's: one WARNING line."""
        exc = kw.get("exc_info")
        if isinstance(exc, web.RequestPayloadError | HttpProcessingError):
            self.logger.warning("unreadable request body: %s", type(exc).__name__)
            return
        super().log_exception(*args, **kw)

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError) or status >= 500:
            return super().handle_error(request, status, exc, message)
        kind = type(exc).__name__
        self.logger.warning("unreadable HTTP request from %s: %s", request.remote, kind)
        if request.writer.output_size > 0:  # as aiohttp: an answer has begun, the line is lost
            raise ConnectionError("response already started")
        response = problem(status, f"unreadable HTTP request ({kind})")
        response.force_close()
        return response


class ProblemServer(web.Server):
    """``web.Server`` whose connections answer unparsable requests with problem+json."""

    def __call__(self) -> RequestHandler:
        return _ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class ProblemAppRunner(web.AppRunner):
    """``AppRunner`` serving its application through a ``ProblemServer``."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        return ProblemServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            **server._kwargs,
        )


def run_app(app: web.Application, host: str, port: int, *, reuse_port: bool = False) -> None:
    """Serve until SIGTERM/SIGINT; then every cleanup_ctx runs (consumers commit, close).

    With ``reuse_port`` several processes share one port and the kernel spreads connections.
    """

    _serve(partial(app_runner, app), host, port, reuse_port=reuse_port)


def run_server(
    handler: Handler,
    host: str,
    port: int,
    *,
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
    reuse_port: bool = False,
) -> None:
    """``run_app`` for aiohttp's low-level server: ``start``, serve until SIGTERM/SIGINT, let
    the requests in progress finish (15 s at most), then ``stop``."""

    _serve(
        partial(server_runner, handler), host, port, reuse_port=reuse_port, start=start, stop=stop
    )


def app_runner(app: web.Application) -> web.BaseRunner:
    """The runner ``run_app`` serves ``app`` with."""
    return ProblemAppRunner(
        app,
        access_log=None,
        keepalive_timeout=KEEPALIVE_TIMEOUT_S,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
    )


def server_runner(handler: Handler) -> web.BaseRunner:
    """The runner ``run_server`` serves ``handler`` with; on the loop (a Server takes it)."""
    server = ProblemServer(handler, access_log=None, keepalive_timeout=KEEPALIVE_TIMEOUT_S)
    return web.ServerRunner(server, shutdown_timeout=SHUTDOWN_TIMEOUT_S)


async def _nothing() -> None:
    return None


def _serve(
    make_runner: Callable[[], web.BaseRunner],
    host: str,
    port: int,
    *,
    reuse_port: bool,
    start: Callable[[], Awaitable[None]] = _nothing,
    stop: Callable[[], Awaitable[None]] = _nothing,
) -> None:
    import uvloop

    async def serve() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        await start()
        serving = make_runner()
        try:
            await serving.setup()
            await web.TCPSite(serving, host, port, reuse_port=reuse_port or None).start()
            await stopping.wait()
        finally:
            await serving.cleanup()
            await stop()

    uvloop.run(serve())
