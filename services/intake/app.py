"""The intake: its state, its route table, and the dispatcher aiohttp's low-level server calls.

The intake serves a fixed handful of paths, one per channel, at the highest request rate of
the three services. ``web.Application`` would resolve every request through its router, add
the app to a match info and run a middleware chain (two coroutine frames, entered twice per
request since the handler waits for Kafka): measured, a quarter of an aiohttp request's cost.
Here one dict lookup finds the handler and one coroutine (``shared.http.answered``) times it
and turns errors into problem+json, as the middleware does for the router and SLA service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial

import msgspec
from aiohttp import web

from services.intake import views
from services.intake.channels import CHANNELS
from services.intake.context import IntakeContext
from services.intake.dedupe import RecentlyAcked
from services.intake.metrics import IN_FLIGHT, declare_series
from services.intake.openapi import openapi_document
from services.intake.tokens import TokenScopes
from shared.http import answered, health_answer, metrics, ready_answer
from shared.kafka_producer import ResilientProducer
from shared.partitioner import default_partition
from shared.problem import problem
from shared.settings import Settings

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
INBOUND = "/v1/inbound/"


@dataclass(frozen=True, slots=True)
class Route:
    """A path's handlers by method; ``template`` is its name in metrics."""

    template: str
    methods: Mapping[str, Handler]


class Intake:
    def __init__(self, settings: Settings, producer: ResilientProducer | None = None) -> None:
        producer = producer or ResilientProducer(
            settings.kafka_bootstrap_servers,
            send_timeout_s=settings.kafka_timeout_s,
            client_id="intake",
            linger_ms=0,
            partitioner=default_partition,
        )
        self.context = ctx = IntakeContext(
            settings=settings,
            producer=producer,
            dedupe=RecentlyAcked(),
            tokens=TokenScopes(settings.intake_tokens),
            openapi_json=msgspec.json.encode(openapi_document()),
        )
        IN_FLIGHT.set_function(lambda: producer.in_flight)
        declare_series(CHANNELS)
        routes = [
            _get("/healthz", _healthz),
            _get("/readyz", partial(_readyz, producer)),
            _get("/metrics", metrics),
            _get("/v1/openapi.json", partial(views.get_openapi, ctx)),
        ]
        for channel in CHANNELS:  # one plain route per channel (SPEC §2)
            path = f"{INBOUND}{channel}"
            routes.append(_post(path, partial(views.post_message, ctx, channel)))
            routes.append(_post(f"{path}/batch", partial(views.post_batch, ctx, channel)))
        self._routes = {route.template: route for route in routes}

    async def start(self) -> None:
        await self.context.producer.start()

    async def stop(self) -> None:
        await self.context.producer.stop()

    def handle(self, request: web.BaseRequest) -> Awaitable[web.StreamResponse]:
        """The server's request handler: not a coroutine itself, it hands over the one that
        answers (a frame less on every step of every request)."""
        route = self._routes.get(request.path) or _other(request.path)
        handler = route.methods.get(request.method)
        if handler is None:
            handler = partial(_not_allowed, route)
        return answered(request, handler, route.template)


def _get(template: str, handler: Handler) -> Route:
    return Route(template, {"GET": handler, "HEAD": handler})


def _post(template: str, handler: Handler) -> Route:
    return Route(template, {"POST": handler})


# ``/v1/inbound/{anything else}``: the known channels have routes of their own.
_UNKNOWN_CHANNEL = _post(f"{INBOUND}{{channel}}", views.unknown_channel)
_UNKNOWN_CHANNEL_BATCH = _post(f"{INBOUND}{{channel}}/batch", views.unknown_channel)


_UNMATCHED = Route("unmatched", {})


def _other(path: str) -> Route:
    """A path without a route of its own: an unknown channel, or nothing at all."""
    if path.startswith(INBOUND):
        name, slash, rest = path[len(INBOUND) :].partition("/")
        if name and not slash:
            return _UNKNOWN_CHANNEL
        if name and rest == "batch":
            return _UNKNOWN_CHANNEL_BATCH
    return _UNMATCHED


async def _not_allowed(route: Route, _: web.BaseRequest) -> web.Response:
    """No handler for this method: a 405 naming the methods, or a 404 for no route at all."""
    if not route.methods:
        return problem(404, "no such path; see /v1/openapi.json")
    allowed = ", ".join(sorted(route.methods))
    return problem(405, f"use {allowed}", headers={"Allow": allowed})


async def _healthz(_: web.BaseRequest) -> web.Response:
    return health_answer([])  # no background loops: up while it serves


async def _readyz(producer: ResilientProducer, _: web.BaseRequest) -> web.Response:
    return ready_answer({"kafka": await producer.ready()})
