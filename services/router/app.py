"""The router's app factory: the consume loop, the outbox relay, the HTTP API, SIGHUP reloads."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator

from aiohttp import web

from services.router import views
from services.router.context import POOL, PRODUCER, RULES, SETTINGS
from services.router.identity import IdentityHasher
from services.router.outbox import relay_forever
from services.router.pipeline import DEAD_LETTER_REASONS, GROUP, RouterPipeline
from services.router.rules import RulesHolder
from shared.db import create_pool
from shared.dead_letters import declare_reasons
from shared.http import background, base_app, stop_task
from shared.kafka_consumer import BatchConsumer
from shared.kafka_producer import ResilientProducer
from shared.settings import Settings
from shared.topics import INBOUND


def create_app(settings: Settings) -> web.Application:
    producer = ResilientProducer(
        settings.kafka_bootstrap_servers,
        send_timeout_s=settings.kafka_timeout_s,
        client_id="router",
    )
    rules = RulesHolder(settings.rules_path)
    state: dict[str, BatchConsumer] = {}

    async def ready() -> dict[str, bool]:
        consumer = state.get("consumer")
        db_ok = False
        with contextlib.suppress(Exception):
            async with app[POOL].acquire() as conn:
                db_ok = await conn.fetchval("SELECT true")
        return {
            "database": bool(db_ok),
            "kafka": await producer.ready(),
            "consumer": consumer is not None and consumer.running,
        }

    app = base_app(ready)
    declare_reasons(GROUP, DEAD_LETTER_REASONS)
    app.middlewares.append(views.agent_auth)
    app[SETTINGS] = settings
    app[PRODUCER] = producer
    app[RULES] = rules

    async def resources(app: web.Application) -> AsyncIterator[None]:
        app[POOL] = await create_pool(settings.database_url)
        await producer.start()
        hasher = IdentityHasher(os.environ.get("IDENTITY_HASH_KEY", "switchboard-local").encode())
        pipeline = RouterPipeline(
            app[POOL], producer, rules, hasher, triage_workers=settings.router_triage_workers
        )
        await pipeline.start()
        consumer = state["consumer"] = BatchConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=GROUP,
            topics=[INBOUND],
            handler=pipeline.handle,
            max_records=settings.router_batch_max,
            lookahead=pipeline.lookahead,
        )
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, rules.reload)
        consume = background(app, consumer.run(), "router-consume")
        relay = background(app, relay_forever(app[POOL], producer), "router-outbox-relay")
        yield
        await consumer.stop()
        await stop_task(consume)
        await stop_task(relay, grace_s=0)
        pipeline.close()
        loop.remove_signal_handler(signal.SIGHUP)
        await producer.stop()
        await app[POOL].close()

    app.cleanup_ctx.append(resources)
    app.router.add_get("/v1/tickets", views.find_ticket)
    app.router.add_get("/v1/tickets/{ticket_id}", views.get_ticket)
    app.router.add_post("/v1/tickets/{ticket_id}/events", views.post_event)
    app.router.add_get("/v1/queues", views.get_queues)
    app.router.add_get("/v1/queues/{skill_group}", views.get_queue)
    app.router.add_post("/v1/queues/{skill_group}/claim", views.post_claim)
    return app
