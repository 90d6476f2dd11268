"""Agents' lifecycle events: the ticket's status changes and the event goes out via the outbox."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg
import msgspec

from shared.models import TicketLifecycle
from shared.topics import LIFECYCLE

_NAMESPACE = uuid.UUID("0b9b3c5e-7c2f-4d64-9d0e-6f1a2b3c4d5e")
# How far a desk's clock may be off from ours: an event further in the future, or further before
# the ticket existed, is refused (it would stop an SLA clock before it started, or never).
CLOCK_SKEW = timedelta(minutes=5)
_encode = msgspec.json.Encoder().encode


# The statuses each event may be posted in; anything else is a 409. A support desk answers and
# resolves a ticket whether or not someone claimed it first; it reopens only what was resolved,
# and a resolved ticket takes no answer or wait until it is reopened.
_OPEN = frozenset({"waiting", "assigned", "waiting_on_customer"})
ALLOWED_FROM: dict[str, frozenset[str]] = {
    "first_response": _OPEN,
    "waiting_on_customer": _OPEN,
    "resolved": _OPEN,
    "reopened": frozenset({"resolved"}),
}


class TicketNotFound(Exception):
    pass


class EventBeforeTicket(Exception):
    """The event's ``at`` lies before the ticket was created."""


class InvalidTransition(Exception):
    """The event does not apply to the ticket in its current status."""

    def __init__(self, kind: str, status: str) -> None:
        super().__init__(f"a {kind} event does not apply to a ticket that is {status}")
        self.kind = kind
        self.status = status


def event_id_for(ticket_id: uuid.UUID, kind: str, agent_id: str, at: datetime) -> str:
    """A retried POST of the same event gets the same id, so the SLA service counts it once."""
    return str(uuid.uuid5(_NAMESPACE, f"{ticket_id}|{kind}|{agent_id}|{at.isoformat()}"))


async def record_event(
    conn: asyncpg.Connection,
    ticket_id: uuid.UUID,
    kind: str,
    agent_id: str,
    at: datetime,
    now: datetime,
) -> tuple[TicketLifecycle, int | None, tuple[str, bytes, bytes]]:
    """Apply the event under the ticket's row lock; the outbox id is None for a retry (no-op).

    Every writer of a ticket's status (claims, threading, these events) locks its row first, so
    the status checked here is the status the update changes.
    """
    event = TicketLifecycle(
        event_id=event_id_for(ticket_id, kind, agent_id, at),
        ticket_id=str(ticket_id),
        type=kind,  # type: ignore[arg-type]
        agent_id=agent_id,
        at=at,
    )
    record = (LIFECYCLE, str(ticket_id).encode(), _encode(event))
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT status, resolved_at, created_at FROM tickets WHERE ticket_id = $1 FOR UPDATE",
            ticket_id,
        )
        if row is None:
            raise TicketNotFound(str(ticket_id))
        if at < row["created_at"] - CLOCK_SKEW:
            raise EventBeforeTicket(str(ticket_id))
        if row["status"] not in ALLOWED_FROM[kind]:
            if kind == "resolved" and row["resolved_at"] == at:
                return event, None, record  # the same resolution posted again
            raise InvalidTransition(kind, row["status"])
        if kind == "first_response":
            await conn.execute(
                """
                UPDATE tickets SET first_response_at = coalesce(first_response_at, $2),
                    assigned_agent = coalesce(assigned_agent, $3),
                    status = CASE WHEN status = 'waiting' THEN 'assigned' ELSE status END,
                    updated_at = $4
                WHERE ticket_id = $1
                """,
                ticket_id,
                at,
                agent_id,
                now,
            )
        elif kind == "waiting_on_customer":
            await conn.execute(
                "UPDATE tickets SET status = 'waiting_on_customer', updated_at = $2,"
                " assigned_agent = coalesce(assigned_agent, $3) WHERE ticket_id = $1",
                ticket_id,
                now,
                agent_id,
            )
        elif kind == "resolved":
            await conn.execute(
                "UPDATE tickets SET status = 'resolved', resolved_at = $2, updated_at = $3"
                " WHERE ticket_id = $1",
                ticket_id,
                at,
                now,
            )
        else:  # reopened: back to the agent who had it, or to the queue
            await conn.execute(
                """
                UPDATE tickets SET resolved_at = NULL, updated_at = $2,
                    status = CASE WHEN assigned_agent IS NULL THEN 'waiting' ELSE 'assigned' END,
                    waiting_since = CASE WHEN assigned_agent IS NULL THEN $2 ELSE waiting_since END
                WHERE ticket_id = $1
                """,
                ticket_id,
                now,
            )
        outbox_id: int = await conn.fetchval(
            "INSERT INTO outbox (topic, key, value) VALUES ($1, $2, $3) RETURNING id", *record
        )
    return event, outbox_id, record
