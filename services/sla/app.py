"""The SLA service's app factory: consume routed and lifecycle events, fire escalations, report."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from services.sla import views
from services.sla.context import ENGINE, POOL
from services.sla.engine import SlaEngine
from services.sla.gauges import gauges_forever, zero_gauges
from services.sla.policy import load_policy
from shared.db import create_pool
from shared.dead_letters import declare_reasons
from shared.http import background, base_app, stop_task
from shared.kafka_consumer import BatchConsumer
from shared.kafka_producer import ResilientProducer
from shared.settings import Settings
from shared.topics import LIFECYCLE, ROUTED

GROUP = "sla"


def create_app(settings: Settings) -> web.Application:
    producer = ResilientProducer(
        settings.kafka_bootstrap_servers, send_timeout_s=settings.kafka_timeout_s, client_id="sla"
    )
    policy = load_policy(settings.policy_path)
    state: dict[str, BatchConsumer] = {}

    async def ready() -> dict[str, bool]:
        db_ok = False
        with contextlib.suppress(Exception):
            async with app[POOL].acquire() as conn:
                db_ok = await conn.fetchval("SELECT true")
        consumer = state.get("consumer")
        return {
            "database": bool(db_ok),
            "kafka": await producer.ready(),
            "consumer": consumer is not None and consumer.running,
        }

    app = base_app(ready)
    zero_gauges()
    declare_reasons(GROUP, ("invalid_event",))

    async def resources(app: web.Application) -> AsyncIterator[None]:
        app[POOL] = await create_pool(settings.database_url)
        await producer.start()
        engine = app[ENGINE] = SlaEngine(
            app[POOL], producer, policy, bootstrap_servers=settings.kafka_bootstrap_servers
        )
        await engine.refresh()
        consumer = state["consumer"] = BatchConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=GROUP,
            topics=[ROUTED, LIFECYCLE],
            handler=engine.handle,
        )
        tasks = [
            background(app, consumer.run(), "sla-consume"),
            background(app, engine.run_timers(), "sla-timers"),
            background(app, engine.maintain(), "sla-maintain"),
            background(app, gauges_forever(app[POOL]), "sla-gauges"),
        ]
        yield
        await consumer.stop()
        await stop_task(tasks[0])
        for task in tasks[1:]:
            await stop_task(task, grace_s=0)
        await producer.stop()
        await app[POOL].close()

    app.cleanup_ctx.append(resources)
    app.router.add_get("/", views.get_wallboard)
    app.router.add_get("/v1/sla/wallboard", views.get_wallboard_data)
    app.router.add_get("/v1/sla/summary", views.get_summary)
    app.router.add_get("/v1/sla/tickets/{ticket_id}", views.get_ticket)
    return app
