"""Read models for the summary, the wallboard and the gauges: aggregate queries, no per-ticket work."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from shared.models import PRIORITIES, SKILL_GROUPS


async def summary(
    conn: asyncpg.Connection, now: datetime, window: timedelta
) -> list[dict[str, Any]]:
    cells: dict[tuple[str, str], dict[str, Any]] = {
        (p, g): {
            "priority": p,
            "skill_group": g,
            "open": 0,
            "at_risk": 0,
            "breached": 0,
            "oldest_wait_seconds": 0.0,
            "met": {},
            "met_pct": None,
        }
        for p in PRIORITIES
        for g in SKILL_GROUPS
    }

    def cell(priority: str, group: str) -> dict[str, Any]:
        return cells.setdefault(
            (priority, group),
            {
                "priority": priority,
                "skill_group": group,
                "open": 0,
                "at_risk": 0,
                "breached": 0,
                "oldest_wait_seconds": 0.0,
                "met": {},
                "met_pct": None,
            },
        )

    for r in await conn.fetch(
        "SELECT priority, skill_group, count(*) AS n FROM sla_tickets WHERE status <> 'resolved'"
        " GROUP BY 1, 2"
    ):
        cell(r["priority"], r["skill_group"])["open"] = r["n"]
    for r in await live_risk(conn, now):
        c = cell(r["priority"], r["skill_group"])
        c["at_risk"], c["breached"] = r["at_risk"], r["breached"]
    for r in await oldest_waits(conn, now):
        cell(r["priority"], r["skill_group"])["oldest_wait_seconds"] = r["oldest_wait_seconds"]
    totals: dict[tuple[str, str], list[int]] = {}
    for r in await met_counts(conn, now - window):
        c = cell(r["priority"], r["skill_group"])
        c["met"][r["target"]] = {
            "met": r["met"],
            "stopped": r["stopped"],
            "pct": round(100.0 * r["met"] / r["stopped"], 2),
        }
        acc = totals.setdefault((r["priority"], r["skill_group"]), [0, 0])
        acc[0] += r["met"]
        acc[1] += r["stopped"]
    for key, (met, stopped) in totals.items():
        cells[key]["met_pct"] = round(100.0 * met / stopped, 2) if stopped else None
    return list(cells.values())


async def live_risk(conn: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    """Open tickets whose clock is past its at-risk point or its due time, right now."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT t.priority, t.skill_group,
            count(DISTINCT c.ticket_id) FILTER (
                WHERE (c.state = 'running' AND c.due_at <= $1)
                   OR (c.state = 'paused' AND c.status = 'breached')) AS breached,
            count(DISTINCT c.ticket_id) FILTER (
                WHERE c.state = 'running' AND c.at_risk_at <= $1 AND c.due_at > $1) AS at_risk
        FROM sla_clocks c JOIN sla_tickets t USING (ticket_id)
        WHERE c.state IN ('running', 'paused')
        GROUP BY 1, 2
        """,
        now,
    )
    return rows


async def oldest_waits(conn: asyncpg.Connection, now: datetime) -> list[dict[str, Any]]:
    """From the router's queue table: the store of record for who is waiting."""
    rows = await conn.fetch(
        "SELECT priority, skill_group, count(*) AS waiting, min(waiting_since) AS oldest"
        " FROM tickets WHERE status = 'waiting' GROUP BY 1, 2"
    )
    return [
        {
            "priority": r["priority"],
            "skill_group": r["skill_group"],
            "waiting": r["waiting"],
            "oldest_waiting_since": r["oldest"].isoformat(),
            "oldest_wait_seconds": round(max((now - r["oldest"]).total_seconds(), 0.0), 3),
        }
        for r in rows
    ]


async def met_counts(conn: asyncpg.Connection, since: datetime) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT t.priority, t.skill_group, c.target,
            count(*) FILTER (WHERE c.status = 'met') AS met, count(*) AS stopped
        FROM sla_clocks c JOIN sla_tickets t USING (ticket_id)
        WHERE c.state = 'stopped' AND c.stopped_at >= $1
        GROUP BY 1, 2, 3
        """,
        since,
    )
    return rows


async def hot_tickets(
    conn: asyncpg.Connection, now: datetime, limit: int = 50
) -> list[dict[str, Any]]:
    """Breached and at-risk clocks, the most overdue first: what the wallboard lists."""
    rows = await conn.fetch(
        """
        SELECT c.ticket_id, c.target, c.due_at, c.at_risk_at, t.priority, t.skill_group, t.channel
        FROM sla_clocks c JOIN sla_tickets t USING (ticket_id)
        WHERE c.state = 'running' AND c.at_risk_at <= $1
        ORDER BY c.due_at LIMIT $2
        """,
        now,
        limit,
    )
    return [
        {
            "ticket_id": str(r["ticket_id"]),
            "target": r["target"],
            "priority": r["priority"],
            "skill_group": r["skill_group"],
            "channel": r["channel"],
            "due_at": r["due_at"].isoformat(),
            "state": "breached" if r["due_at"] <= now else "at_risk",
            "seconds_to_due": round((r["due_at"] - now).total_seconds(), 1),
        }
        for r in rows
    ]
