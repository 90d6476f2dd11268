"""The SLA engine against the real PostgreSQL and Kafka, in a schema of its own.

- only rungs inside the horizon are held in memory; later ones arrive as time moves on or when
  another replica rewrites them;
- the relay republishes an orphaned ledger row only when the topic does not already hold it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import pytest

from services.sla import engine as engine_module
from services.sla.engine import SlaEngine, escalation_for
from services.sla.ladder import EscalationStep
from services.sla.policy import TicketFacts, load_policy
from services.sla.store import Timer, replace_timers
from shared.kafka_producer import ResilientProducer
from shared.topics import ESCALATIONS
from tests.integration.procs import end_offsets as topic_end_offsets
from tests.integration.procs import read_topic

FACTS = TicketFacts("P1", "chat", "security")


def _timer(ticket: uuid.UUID, fire_in: timedelta, level: int = 1) -> Timer:
    at = datetime.now(UTC) + fire_in
    step = EscalationStep(level, "at_risk", "first_response", "team_lead", at, at, 0)
    return Timer(step.dedupe_key(str(ticket)), ticket, step, FACTS)


@pytest.fixture
async def pool(infra_env: dict[str, str]) -> AsyncIterator[asyncpg.Pool]:
    schema = f"test_sla_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(infra_env["DATABASE_URL"])
    await admin.execute(f"CREATE SCHEMA {schema}")
    for table in ("sla_timers", "sla_escalations"):
        await admin.execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)")
    created = await asyncpg.create_pool(
        infra_env["DATABASE_URL"], min_size=1, max_size=4, server_settings={"search_path": schema}
    )
    assert created is not None
    try:
        yield created
    finally:
        await created.close()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


@pytest.fixture
async def producer(infra_env: dict[str, str]) -> AsyncIterator[ResilientProducer]:
    started = ResilientProducer(infra_env["KAFKA_BOOTSTRAP_SERVERS"], client_id="test-sla")
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


async def test_only_rungs_inside_the_horizon_are_held(
    pool: asyncpg.Pool, producer: ResilientProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "HORIZON", timedelta(seconds=3))
    ticket, other = uuid.uuid4(), uuid.uuid4()
    soon, later, far = (
        _timer(ticket, timedelta(minutes=1) - timedelta(seconds=59), 1),
        _timer(ticket, timedelta(seconds=4), 2),
        _timer(other, timedelta(hours=2), 1),
    )
    async with pool.acquire() as conn:
        await replace_timers(conn, [ticket, other], [soon, later, far])
    engine = SlaEngine(pool, producer, load_policy(None))

    assert await engine.refresh() == 1
    assert soon.dedupe_key in engine.timers and later.dedupe_key not in engine.timers

    await asyncio.sleep(1.5)  # the horizon moves past `later`'s fire_at
    await engine.refresh()
    assert later.dedupe_key in engine.timers
    assert far.dedupe_key not in engine.timers

    # Another replica brings `far` forward: the rewrite is picked up at once.
    moved = _timer(other, timedelta(seconds=1), 1)
    async with pool.acquire() as conn:
        await replace_timers(conn, [other], [moved])
    await engine.refresh()
    assert engine.timers.when(moved.dedupe_key) == moved.step.fire_at


async def test_relay_republishes_only_what_the_topic_lacks(
    pool: asyncpg.Pool,
    producer: ResilientProducer,
    infra_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine_module, "ORPHAN_AFTER_S", 0.0)
    bootstrap = infra_env["KAFKA_BOOTSTRAP_SERVERS"]
    landed, lost = _timer(uuid.uuid4(), timedelta(0)), _timer(uuid.uuid4(), timedelta(0))
    events = {t.dedupe_key: escalation_for(t, datetime.now(UTC)) for t in (landed, lost)}
    start = await topic_end_offsets(bootstrap, ESCALATIONS)
    async with pool.acquire() as conn:
        for t in (landed, lost):
            await conn.execute(
                """
                INSERT INTO sla_escalations (dedupe_key, ticket_id, target, level, cycle, kind,
                    escalate_to, due_at, fire_at, emitted_at, value)
                VALUES ($1, $2, 'first_response', 1, 0, 'at_risk', 'team_lead', $3, $3,
                        now() - interval '1 second', $4)
                """,
                t.dedupe_key,
                t.ticket_id,
                t.step.due_at,
                msgspec.json.encode(events[t.dedupe_key]),
            )
    # The publisher of `landed` died after the broker acknowledged it, before marking the row.
    await producer.send_many(
        [
            (
                ESCALATIONS,
                str(landed.ticket_id).encode(),
                msgspec.json.encode(events[landed.dedupe_key]),
            )
        ]
    )
    engine = SlaEngine(pool, producer, load_policy(None), bootstrap_servers=bootstrap)

    assert await engine.relay_once() == 1
    assert await engine.relay_once() == 0  # every row is marked now

    wanted = {e.escalation_id for e in events.values()}

    def ours(records: list[Any]) -> list[str]:
        found = (msgspec.json.decode(r.value).get("escalation_id") for r in records)
        return [i for i in found if i in wanted]

    records = await read_topic(
        bootstrap,
        ESCALATIONS,
        start=start,
        done=lambda rs: len(ours(rs)) >= len(wanted),
        timeout=20,
        settle_s=3.0,
    )
    assert sorted(ours(records)) == sorted(wanted)  # each exactly once
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM sla_escalations WHERE published_at IS NULL")
            == 0
        )


async def test_a_dead_publishers_earlier_rung_is_published_before_the_next(
    pool: asyncpg.Pool, producer: ResilientProducer, infra_env: dict[str, str]
) -> None:
    """A replica claimed rung 1 and died before publishing it; rung 2 of the same ticket fires
    on another replica before the relay's ORPHAN_AFTER_S: rung 1 must still come first."""
    bootstrap = infra_env["KAFKA_BOOTSTRAP_SERVERS"]
    ticket = uuid.uuid4()
    first, second = _timer(ticket, timedelta(0), 1), _timer(ticket, timedelta(0), 2)
    orphan = escalation_for(first, datetime.now(UTC))
    start = await topic_end_offsets(bootstrap, ESCALATIONS)
    async with pool.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO sla_escalations (dedupe_key, ticket_id, target, level, cycle, kind,
                escalate_to, due_at, fire_at, emitted_at, value)
            VALUES ($1, $2, 'first_response', 1, 0, 'at_risk', 'team_lead', $3, $3, now(), $4)
            """,
            first.dedupe_key,
            ticket,
            first.step.due_at,
            msgspec.json.encode(orphan),
        )
        await replace_timers(conn, [ticket], [second])
    engine = SlaEngine(pool, producer, load_policy(None), bootstrap_servers=bootstrap)
    await engine.refresh()
    assert await engine.fire([second.dedupe_key]) == 1
    assert await engine.relay_once() == 0  # nothing left for the relay

    def ladder(records: list[Any]) -> list[tuple[int, int]]:
        found = [(r.offset, msgspec.json.decode(r.value)) for r in records]
        return [(offset, e["level"]) for offset, e in found if e.get("ticket_id") == str(ticket)]

    records = await read_topic(
        bootstrap,
        ESCALATIONS,
        start=start,
        done=lambda rs: len(ladder(rs)) >= 2,
        timeout=20,
        settle_s=2.0,
    )
    assert [level for _, level in sorted(ladder(records))] == [1, 2]
