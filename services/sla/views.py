"""The SLA service's HTTP API: one ticket's clocks, the summary, and the wallboard."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import msgspec
from aiohttp import web

from services.sla import reports, store
from services.sla.clocks import ClockView, TicketClocks
from services.sla.context import ENGINE, POOL
from shared.problem import problem

_WINDOW = re.compile(r"^(\d{1,4})([mhd])$")
_UNITS = {"m": 60, "h": 3600, "d": 86400}


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(data), status=status, content_type="application/json"
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _clock(view: ClockView) -> dict[str, Any]:
    return {
        "target": view.target,
        "state": view.state,
        "status": view.status,
        "target_seconds": view.target_duration.total_seconds(),
        "calendar": view.calendar,
        "rule": view.rule,
        "started_at": _iso(view.started_at),
        "due_at": _iso(view.due_at),
        "at_risk_at": _iso(view.at_risk_at),
        "stopped_at": _iso(view.stopped_at),
        "business_elapsed_seconds": round(view.business_elapsed.total_seconds(), 3),
        "remaining_seconds": round(view.remaining.total_seconds(), 3),
        "cycle": view.cycle,
    }


async def get_ticket(request: web.Request) -> web.Response:
    try:
        ticket_id = uuid.UUID(request.match_info["ticket_id"])
    except ValueError:
        return problem(404, "no such ticket", field="ticket_id")
    engine = request.app[ENGINE]
    async with request.app[POOL].acquire() as conn:
        loaded = await store.load_tickets(conn, [ticket_id])
        fired = await conn.fetch(
            "SELECT level, kind, target, escalate_to, due_at, emitted_at FROM sla_escalations"
            " WHERE ticket_id = $1 ORDER BY emitted_at, level",
            ticket_id,
        )
    if ticket_id not in loaded:
        return problem(404, "no such ticket (or not routed yet)", field="ticket_id")
    facts, events = loaded[ticket_id]
    clocks = TicketClocks(events)
    views = clocks.views(engine.policy, facts, datetime.now(UTC))
    return _json(
        {
            "ticket_id": str(ticket_id),
            "status": clocks.status,
            "priority": facts.priority,
            "skill_group": facts.skill_group,
            "channel": facts.channel,
            "intent": facts.intent,
            "clocks": {name: _clock(view) for name, view in views.items()},
            "escalations": [
                {
                    "level": r["level"],
                    "kind": r["kind"],
                    "target": r["target"],
                    "escalate_to": r["escalate_to"],
                    "due_at": _iso(r["due_at"]),
                    "emitted_at": _iso(r["emitted_at"]),
                }
                for r in fired
            ],
        }
    )


def _window(raw: str) -> timedelta | None:
    match = _WINDOW.match(raw)
    if match is None or int(match.group(1)) == 0:
        return None
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


async def get_summary(request: web.Request) -> web.Response:
    window = _window(request.query.get("window", "24h"))
    if window is None:
        return problem(400, "window must look like 30m, 24h or 7d", field="window")
    now = datetime.now(UTC)
    async with request.app[POOL].acquire() as conn:
        cells = await reports.summary(conn, now, window)
    return _json(
        {
            "as_of": now.isoformat(),
            "window_seconds": window.total_seconds(),
            "totals": {key: sum(c[key] for c in cells) for key in ("open", "at_risk", "breached")},
            "cells": [c for c in cells if c["open"] or c["met"] or c["at_risk"] or c["breached"]],
        }
    )


async def get_wallboard_data(request: web.Request) -> web.Response:
    now = datetime.now(UTC)
    async with request.app[POOL].acquire() as conn:
        queues = await reports.oldest_waits(conn, now)
        hot = await reports.hot_tickets(conn, now)
        cells = await reports.summary(conn, now, timedelta(hours=24))
    return _json(
        {
            "as_of": now.isoformat(),
            "queues": queues,
            "hot": hot,
            "totals": {k: sum(c[k] for c in cells) for k in ("open", "at_risk", "breached")},
        }
    )


async def get_wallboard(_: web.Request) -> web.Response:
    page = (resources.files("services.sla") / "static" / "wallboard.html").read_text("utf-8")
    return web.Response(text=page, content_type="text/html")
