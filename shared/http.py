"""What every service's aiohttp app has: problem+json errors, request metrics, health, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from functools import cache
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.loop_metrics import HistogramChild, LoopHistogram
from shared.problem import Handler, problem_for

log = logging.getLogger(__name__)

REQUEST_SECONDS = LoopHistogram(
    "switchboard_http_request_duration_seconds",
    "HTTP request latency by route template, method and status code.",
    ["route", "method", "code"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

ReadyCheck = Callable[[], Awaitable[dict[str, bool]]]
READY_CHECK: web.AppKey[ReadyCheck] = web.AppKey("ready_check")
# Long-running loops (consume, timers, relays): if one ends on its own, the process is no longer
# doing its job, so /healthz fails and the orchestrator restarts it instead of it idling "up".
BACKGROUND: web.AppKey[list[asyncio.Task[None]]] = web.AppKey("background")


# Any token is a valid HTTP method to aiohttp: a label must not take whatever a client sends.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route_of(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@cache
def _latency(route: str, method: str, code: int) -> HistogramChild:
    """One child per route template × method × status: a bounded set, looked up once each."""
    return REQUEST_SECONDS.labels(route, method if method in _METHODS else "other", str(code))


AnyRequest = TypeVar("AnyRequest", bound=web.BaseRequest)


async def answered(
    request: AnyRequest,
    handler: Callable[[AnyRequest], Awaitable[web.StreamResponse]],
    route: str,
) -> web.StreamResponse:
    """The handler's response, timed under ``route`` (a template, never the raw path); what it
    raises leaves as problem+json. The services' edge, in one coroutine frame."""
    started = time.perf_counter()
    code = 500
    try:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                code = exc.status
                raise
            response = problem_for(request, exc)
        except Exception as exc:  # noqa: BLE001 - the edge: anything unexpected is a logged 500
            response = problem_for(request, exc)
        code = response.status
        return response
    finally:
        _latency(route, request.method, code).observe(time.perf_counter() - started)


@web.middleware
async def edge_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every response leaves as problem+json when it is an error, and is timed."""
    return await answered(request, handler, _route_of(request))


def background(
    app: web.Application, coro: Coroutine[Any, Any, None], name: str
) -> asyncio.Task[None]:
    """Start a loop the service cannot live without; its end is logged and fails /healthz."""
    task = asyncio.create_task(coro, name=name)
    task.add_done_callback(_report_end)
    app[BACKGROUND].append(task)
    return task


def _report_end(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.critical("background task %s failed", task.get_name(), exc_info=exc)


async def healthz(request: web.Request) -> web.Response:
    return health_answer(sorted(t.get_name() for t in request.app[BACKGROUND] if t.done()))


def health_answer(ended: list[str]) -> web.Response:
    """``/healthz``: 503 naming the loops that ended, else ok."""
    if ended:
        return web.json_response({"status": "failing", "ended": ended}, status=503)
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    return ready_answer(await request.app[READY_CHECK]())


def ready_answer(checks: dict[str, bool]) -> web.Response:
    """``/readyz``: 200 when every dependency answered, else 503; both name the checks."""
    ok = all(checks.values())
    return web.json_response(
        {"status": "ready" if ok else "not ready", "checks": checks}, status=200 if ok else 503
    )


async def metrics(_: web.BaseRequest) -> web.Response:
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    response.charset = "utf-8"
    return response


def base_app(ready_check: ReadyCheck, *, client_max_size: int = 1 << 20) -> web.Application:
    app = web.Application(middlewares=[edge_middleware], client_max_size=client_max_size)
    app[READY_CHECK] = ready_check
    app[BACKGROUND] = []
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def stop_task(task: asyncio.Task[None], grace_s: float = 10.0) -> None:
    """Let a background task finish what it is doing, then cancel it and wait for it."""
    if grace_s > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), grace_s)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
