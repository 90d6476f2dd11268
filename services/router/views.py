"""The router's HTTP API for agents and ops: tickets, queues, claims, lifecycle events."""

from __future__ import annotations

import contextlib
import re
import uuid
from datetime import UTC, datetime

import msgspec
from aiohttp import web

from services.router import queues
from services.router.bodies import read_json
from services.router.context import POOL, PRODUCER, SETTINGS
from services.router.lifecycle import (
    CLOCK_SKEW,
    EventBeforeTicket,
    InvalidTransition,
    TicketNotFound,
    record_event,
)
from services.router.metrics import CLAIMS, LIFECYCLE
from services.router.outbox import publish_outbox
from services.router.ticket_read import ticket_by_id, ticket_id_of_message
from shared.auth import is_agent
from shared.kafka_producer import BrokerUnavailable
from shared.models import SKILL_GROUPS, LifecycleType
from shared.problem import Handler, problem

# An agent id is stored and shown to supervisors: no control characters (PostgreSQL refuses NUL).
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class ClaimRequest(msgspec.Struct):
    agent_id: str


class EventRequest(msgspec.Struct):
    type: LifecycleType
    agent_id: str
    at: datetime


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(data), status=status, content_type="application/json"
    )


@web.middleware
async def agent_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/v1/") and not is_agent(
        request, request.app[SETTINGS].agent_tokens
    ):
        return problem(
            401,
            "a valid agent bearer token is required",
            field="Authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return await handler(request)


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def _bad_agent_id(agent_id: str) -> web.Response | None:
    if not agent_id.strip():
        return problem(422, "agent_id must not be empty", field="$.agent_id")
    if _CONTROL_RE.search(agent_id):
        return problem(422, "agent_id must not contain control characters", field="$.agent_id")
    return None


async def get_ticket(request: web.Request) -> web.Response:
    ticket_id = _uuid(request.match_info["ticket_id"])
    if ticket_id is None:
        return problem(404, "no such ticket", field="ticket_id")
    async with request.app[POOL].acquire() as conn:
        ticket = await ticket_by_id(conn, ticket_id)
    return problem(404, "no such ticket", field="ticket_id") if ticket is None else _json(ticket)


async def find_ticket(request: web.Request) -> web.Response:
    raw = request.query.get("message_id")
    if not raw:
        return problem(400, "query parameter message_id is required", field="message_id")
    message_id = _uuid(raw)
    if message_id is None:
        return problem(404, "no ticket holds that message (yet)", field="message_id")
    async with request.app[POOL].acquire() as conn:
        ticket_id = await ticket_id_of_message(conn, message_id)
        ticket = await ticket_by_id(conn, ticket_id) if ticket_id else None
    if ticket is None:
        return problem(404, "no ticket holds that message (yet)", field="message_id")
    return _json(ticket)


async def get_queues(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        data = await queues.overview(conn, datetime.now(UTC))
    return _json({"queues": data})


def _skill_group(request: web.Request) -> str | web.Response:
    group = request.match_info["skill_group"]
    return (
        group if group in SKILL_GROUPS else problem(404, "unknown skill group", field="skill_group")
    )


async def get_queue(request: web.Request) -> web.Response:
    group = _skill_group(request)
    if isinstance(group, web.Response):
        return group
    try:
        limit = min(max(int(request.query.get("limit", "100")), 1), 1000)
    except ValueError:
        return problem(400, "limit must be an integer", field="limit")
    now = datetime.now(UTC)
    async with request.app[POOL].acquire() as conn:
        entries = await queues.waiting(conn, group, limit)
    return _json(
        {
            "skill_group": group,
            "tickets": [
                {
                    "ticket_id": str(e.ticket_id),
                    "priority": e.priority,
                    "intent": e.intent,
                    "channel": e.channel,
                    "waiting_since": e.waiting_since.isoformat(),
                    "wait_seconds": round((now - e.waiting_since).total_seconds(), 3),
                }
                for e in entries
            ],
        }
    )


async def post_claim(request: web.Request) -> web.Response:
    group = _skill_group(request)
    if isinstance(group, web.Response):
        return group
    body = await read_json(request, ClaimRequest)
    if isinstance(body, web.Response):
        return body
    if bad := _bad_agent_id(body.agent_id):
        return bad
    capacity = request.app[SETTINGS].agent_capacity
    async with request.app[POOL].acquire() as conn:
        try:
            ticket_id = await queues.claim(conn, group, body.agent_id, capacity, datetime.now(UTC))
        except queues.AtCapacity as exc:
            CLAIMS.labels(group, "at_capacity").inc()
            return problem(409, str(exc), field="agent_id")
        if ticket_id is None:
            CLAIMS.labels(group, "empty").inc()
            return web.Response(status=204)
        ticket = await ticket_by_id(conn, ticket_id)
    CLAIMS.labels(group, "claimed").inc()
    return _json(ticket)


async def post_event(request: web.Request) -> web.Response:
    ticket_id = _uuid(request.match_info["ticket_id"])
    if ticket_id is None:
        return problem(404, "no such ticket", field="ticket_id")
    body = await read_json(request, EventRequest)
    if isinstance(body, web.Response):
        return body
    if body.at.tzinfo is None:
        return problem(422, "at must be an RFC 3339 timestamp with an offset", field="$.at")
    if bad := _bad_agent_id(body.agent_id):
        return bad
    now = datetime.now(UTC)
    if body.at > now + CLOCK_SKEW:
        return problem(422, "at must not be in the future", field="$.at")
    pool = request.app[POOL]
    async with pool.acquire() as conn:
        try:
            event, outbox_id, record = await record_event(
                conn, ticket_id, body.type, body.agent_id, body.at, now
            )
        except TicketNotFound:
            return problem(404, "no such ticket", field="ticket_id")
        except InvalidTransition as exc:
            return problem(409, str(exc), field="$.type", ticket_status=exc.status)
        except EventBeforeTicket:
            return problem(422, "at is before the ticket was created", field="$.at")
    if outbox_id is not None:
        # Stored in the outbox already: if the broker is away, the relay publishes it later.
        with contextlib.suppress(BrokerUnavailable):
            await publish_outbox(pool, request.app[PRODUCER], [outbox_id], [record])
    LIFECYCLE.labels(body.type).inc()
    return _json(
        {"event_id": event.event_id, "ticket_id": event.ticket_id, "type": event.type}, 202
    )
