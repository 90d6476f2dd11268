"""Agents' lifecycle events: the ticket's status changes and the event goes out via the outbox."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from shared.models import TicketLifecycle
from shared.topics import LIFECYCLE

_NAMESPACE = uuid.UUID("0b9b3c5e-7c2f-4d64-9d0e-6f1a2b3c4d5e")
_encode = msgspec.json.Encoder().encode


class TicketNotFound(Exception):
    pass


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
) -> tuple[TicketLifecycle, int, tuple[str, bytes, bytes]]:
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
            "SELECT status, assigned_agent FROM tickets WHERE ticket_id = $1 FOR UPDATE", ticket_id
        )
        if row is None:
            raise TicketNotFound(str(ticket_id))
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
