"""The intake's app factory: routes and the producer's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import msgspec
from aiohttp import web

from services.intake import views
from services.intake.channels import CHANNELS
from services.intake.context import DEDUPE, OPENAPI_JSON, PRODUCER, SETTINGS, TOKENS
from services.intake.dedupe import RecentlyAcked
from services.intake.metrics import IN_FLIGHT, declare_series
from services.intake.openapi import openapi_document
from services.intake.tokens import TokenScopes
from shared.http import base_app
from shared.kafka_producer import ResilientProducer
from shared.partitioner import default_partition
from shared.settings import Settings


def create_app(settings: Settings, producer: ResilientProducer | None = None) -> web.Application:
    producer = producer or ResilientProducer(
        settings.kafka_bootstrap_servers,
        send_timeout_s=settings.kafka_timeout_s,
        client_id="intake",
        linger_ms=0,
        partitioner=default_partition,
    )

    async def ready() -> dict[str, bool]:
        return {"kafka": await producer.ready()}

    app = base_app(
        ready, client_max_size=max(settings.max_json_bytes, settings.max_mime_bytes) * 10
    )
    app[SETTINGS] = settings
    app[PRODUCER] = producer
    app[DEDUPE] = RecentlyAcked()
    app[TOKENS] = TokenScopes(settings.intake_tokens)
    app[OPENAPI_JSON] = msgspec.json.encode(openapi_document())
    IN_FLIGHT.set_function(lambda: producer.in_flight)
    declare_series(CHANNELS)

    async def producer_ctx(_: web.Application) -> AsyncIterator[None]:
        await producer.start()
        yield
        await producer.stop()

    app.cleanup_ctx.append(producer_ctx)
    app.router.add_get("/v1/openapi.json", views.get_openapi)
    # One plain route per channel (SPEC §2): matched by a dict lookup, no pattern per request.
    for channel in CHANNELS:
        app.router.add_post(f"/v1/inbound/{channel}", partial(views.post_message, channel=channel))
        app.router.add_post(
            f"/v1/inbound/{channel}/batch", partial(views.post_batch, channel=channel)
        )
    app.router.add_post("/v1/inbound/{channel}", views.unknown_channel)
    app.router.add_post("/v1/inbound/{channel}/batch", views.unknown_channel)
    return app
