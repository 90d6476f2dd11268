"""The SLA service's PostgreSQL I/O: events in, clocks and timers out, the escalation ledger."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.sla.clocks import ClockEvent, ClockView
from services.sla.ladder import EscalationStep
from services.sla.policy import TicketFacts


@dataclass(frozen=True)
class Timer:
    """A rung still to fire, with what the escalation event must say."""

    dedupe_key: str
    ticket_id: uuid.UUID
    step: EscalationStep
    facts: TicketFacts


async def save_events(
    conn: asyncpg.Connection,
    facts: dict[uuid.UUID, tuple[TicketFacts, datetime]],
    events: list[tuple[uuid.UUID, ClockEvent]],
) -> None:
    if facts:
        await conn.executemany(
            """
            INSERT INTO sla_tickets (ticket_id, channel, priority, skill_group, intent, visibility, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (ticket_id) DO UPDATE SET priority = excluded.priority,
                skill_group = excluded.skill_group, intent = excluded.intent, updated_at = now()
            """,
            [
                (tid, f.channel, f.priority, f.skill_group, f.intent or "", f.visibility, created)
                for tid, (f, created) in facts.items()
            ],
        )
    if events:
        await conn.executemany(
            "INSERT INTO sla_events (event_key, ticket_id, kind, at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT DO NOTHING",
            [(f"{tid}/{e.event_id}", tid, e.kind, e.at) for tid, e in events],
        )


async def load_tickets(
    conn: asyncpg.Connection, ticket_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[TicketFacts, list[ClockEvent]]]:
    """Facts and every event of each ticket that has been routed (events alone wait for it)."""
    rows = await conn.fetch(
        "SELECT ticket_id, channel, priority, skill_group, intent, visibility FROM sla_tickets"
        " WHERE ticket_id = ANY($1::uuid[])",
        ticket_ids,
    )
    events: dict[uuid.UUID, list[ClockEvent]] = defaultdict(list)
    for e in await conn.fetch(
        "SELECT ticket_id, event_key, kind, at FROM sla_events WHERE ticket_id = ANY($1::uuid[])",
        ticket_ids,
    ):
        events[e["ticket_id"]].append(
            ClockEvent(e["event_key"].split("/", 1)[1], e["kind"], e["at"])
        )
    return {
        r["ticket_id"]: (
            TicketFacts(
                r["priority"], r["channel"], r["skill_group"], r["intent"] or None, r["visibility"]
            ),
            events[r["ticket_id"]],
        )
        for r in rows
    }


async def previous_states(
    conn: asyncpg.Connection, ticket_ids: list[uuid.UUID]
) -> dict[tuple[uuid.UUID, str], str]:
    rows = await conn.fetch(
        "SELECT ticket_id, target, state FROM sla_clocks WHERE ticket_id = ANY($1::uuid[])",
        ticket_ids,
    )
    return {(r["ticket_id"], r["target"]): r["state"] for r in rows}


async def save_clocks(
    conn: asyncpg.Connection,
    views: list[tuple[uuid.UUID, ClockView]],
    statuses: dict[uuid.UUID, str],
) -> None:
    await conn.executemany(
        """
        INSERT INTO sla_clocks (ticket_id, target, cycle, state, status, rule, target_seconds, calendar,
            started_at, due_at, at_risk_at, stopped_at, elapsed_seconds, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now())
        ON CONFLICT (ticket_id, target) DO UPDATE SET cycle = excluded.cycle, state = excluded.state,
            status = excluded.status, rule = excluded.rule, target_seconds = excluded.target_seconds,
            calendar = excluded.calendar, started_at = excluded.started_at, due_at = excluded.due_at,
            at_risk_at = excluded.at_risk_at, stopped_at = excluded.stopped_at,
            elapsed_seconds = excluded.elapsed_seconds, updated_at = now()
        """,
        [
            (
                tid,
                v.target,
                v.cycle,
                v.state,
                v.status,
                v.rule,
                v.target_duration.total_seconds(),
                v.calendar,
                v.started_at,
                v.due_at,
                v.at_risk_at,
                v.stopped_at,
                v.business_elapsed.total_seconds(),
            )
            for tid, v in views
        ],
    )
    await conn.executemany(
        "UPDATE sla_tickets SET status = $2, updated_at = now() WHERE ticket_id = $1",
        list(statuses.items()),
    )


async def replace_timers(
    conn: asyncpg.Connection, ticket_ids: list[uuid.UUID], timers: list[Timer]
) -> list[Timer]:
    """Rewrite the tickets' pending rungs; returns those not already in the ledger."""
    fired = {
        r["dedupe_key"]
        for r in await conn.fetch(
            "SELECT dedupe_key FROM sla_escalations WHERE ticket_id = ANY($1::uuid[])", ticket_ids
        )
    }
    await conn.execute("DELETE FROM sla_timers WHERE ticket_id = ANY($1::uuid[])", ticket_ids)
    pending = [t for t in timers if t.dedupe_key not in fired]
    if pending:
        await conn.executemany(
            """
            INSERT INTO sla_timers (dedupe_key, ticket_id, target, level, cycle, kind, escalate_to,
                fire_at, due_at, priority, skill_group, channel, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now())
            ON CONFLICT (dedupe_key) DO NOTHING
            """,
            [
                (
                    t.dedupe_key,
                    t.ticket_id,
                    t.step.target,
                    t.step.level,
                    t.step.cycle,
                    t.step.kind,
                    t.step.escalate_to,
                    t.step.fire_at,
                    t.step.due_at,
                    t.facts.priority,
                    t.facts.skill_group,
                    t.facts.channel,
                )
                for t in pending
            ],
        )
    return pending


def timer_from_row(r: asyncpg.Record) -> Timer:
    step = EscalationStep(
        r["level"], r["kind"], r["target"], r["escalate_to"], r["fire_at"], r["due_at"], r["cycle"]
    )
    facts = TicketFacts(r["priority"], r["channel"], r["skill_group"])
    return Timer(r["dedupe_key"], r["ticket_id"], step, facts)


async def load_timers(
    conn: asyncpg.Connection, until: datetime, since: datetime | None, beyond: datetime | None
) -> list[Timer]:
    """Rungs firing before ``until``: all of them at start (``since`` None), then only those
    written since ``since`` or newly inside the horizon (firing at or after ``beyond``)."""
    if since is None or beyond is None:
        rows = await conn.fetch("SELECT * FROM sla_timers WHERE fire_at < $1", until)
    else:
        rows = await conn.fetch(
            "SELECT * FROM sla_timers WHERE fire_at < $1 AND (updated_at >= $2 OR fire_at >= $3)",
            until,
            since,
            beyond,
        )
    return [timer_from_row(r) for r in rows]
