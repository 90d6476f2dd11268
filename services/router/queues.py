"""Queues agents take work from: priority first, then age; claims never collide."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from shared.models import PRIORITIES, SKILL_GROUPS


class AtCapacity(Exception):
    """The agent already holds the maximum number of open tickets."""


@dataclass(frozen=True)
class QueueEntry:
    ticket_id: uuid.UUID
    priority: str
    intent: str
    channel: str
    waiting_since: datetime


async def overview(conn: asyncpg.Connection, now: datetime) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """
        SELECT skill_group, priority, count(*) AS waiting, min(waiting_since) AS oldest
        FROM tickets WHERE status = 'waiting' GROUP BY skill_group, priority
        """
    )
    queues: dict[str, dict[str, Any]] = {
        g: {
            "skill_group": g,
            "waiting": dict.fromkeys(PRIORITIES, 0),
            "total": 0,
            "oldest_waiting_since": None,
            "oldest_wait_seconds": 0.0,
        }
        for g in SKILL_GROUPS
    }
    for r in rows:
        q = queues.setdefault(
            r["skill_group"],
            {
                "skill_group": r["skill_group"],
                "waiting": dict.fromkeys(PRIORITIES, 0),
                "total": 0,
                "oldest_waiting_since": None,
                "oldest_wait_seconds": 0.0,
            },
        )
        q["waiting"][r["priority"]] = r["waiting"]
        q["total"] += r["waiting"]
        if q["oldest_waiting_since"] is None or r["oldest"] < q["oldest_waiting_since"]:
            q["oldest_waiting_since"] = r["oldest"]
            q["oldest_wait_seconds"] = round(max((now - r["oldest"]).total_seconds(), 0.0), 3)
    for q in queues.values():
        if q["oldest_waiting_since"] is not None:
            q["oldest_waiting_since"] = q["oldest_waiting_since"].isoformat()
    return list(queues.values())


async def waiting(conn: asyncpg.Connection, skill_group: str, limit: int) -> list[QueueEntry]:
    rows = await conn.fetch(
        """
        SELECT ticket_id, priority, intent, channel, waiting_since FROM tickets
        WHERE skill_group = $1 AND status = 'waiting'
        ORDER BY priority, waiting_since, ticket_id LIMIT $2
        """,
        skill_group,
        limit,
    )
    return [QueueEntry(**dict(r)) for r in rows]


async def claim(
    conn: asyncpg.Connection, skill_group: str, agent_id: str, capacity: int, now: datetime
) -> uuid.UUID | None:
    """Assign the next waiting ticket to the agent, or None when the queue is empty.

    SKIP LOCKED lets concurrent claims pass each other instead of queueing on the same row; the
    per-agent advisory lock makes the capacity check and the assignment one step.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"agent:{agent_id}")
        held = await conn.fetchval(
            "SELECT count(*) FROM tickets WHERE assigned_agent = $1"
            " AND status IN ('assigned', 'waiting_on_customer')",
            agent_id,
        )
        if held >= capacity:
            raise AtCapacity(f"agent holds {held} open tickets (capacity {capacity})")
        ticket_id: uuid.UUID | None = await conn.fetchval(
            """
            SELECT ticket_id FROM tickets
            WHERE skill_group = $1 AND status = 'waiting'
            ORDER BY priority, waiting_since, ticket_id
            LIMIT 1 FOR UPDATE SKIP LOCKED
            """,
            skill_group,
        )
        if ticket_id is None:
            return None
        await conn.execute(
            "UPDATE tickets SET status = 'assigned', assigned_agent = $2, updated_at = $3"
            " WHERE ticket_id = $1",
            ticket_id,
            agent_id,
            now,
        )
        return ticket_id
