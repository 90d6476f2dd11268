"""Reading a ticket back as agents and integrations see it."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else value


async def ticket_by_id(conn: asyncpg.Connection, ticket_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM tickets WHERE ticket_id = $1", ticket_id)
    if row is None:
        return None
    messages = await conn.fetch(
        """
        SELECT message_id, channel, subject, body, quoted, language, redactions, received_at, routed_at
        FROM messages WHERE ticket_id = $1 ORDER BY received_at, routed_at
        """,
        ticket_id,
    )
    others: list[asyncpg.Record] = []
    if row["customer_id"] is not None:
        others = await conn.fetch(
            """
            SELECT ticket_id, channel, status, priority, skill_group FROM tickets
            WHERE customer_id = $1 AND ticket_id <> $2 AND status <> 'resolved'
            ORDER BY created_at
            """,
            row["customer_id"],
            ticket_id,
        )
    return {
        "ticket_id": str(row["ticket_id"]),
        "status": row["status"],
        "channel": row["channel"],
        "priority": row["priority"],
        "skill_group": row["skill_group"],
        "intent": row["intent"],
        "language": row["language"],
        "reasons": row["reasons"],
        "redacted": row["redacted"],
        "assigned_agent": row["assigned_agent"],
        "customer_id": str(row["customer_id"]) if row["customer_id"] else None,
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "waiting_since": _iso(row["waiting_since"]),
        "first_response_at": _iso(row["first_response_at"]),
        "resolved_at": _iso(row["resolved_at"]),
        "messages": [
            {
                "message_id": str(m["message_id"]),
                "channel": m["channel"],
                "subject": m["subject"],
                "body": m["body"],
                "quoted": m["quoted"],
                "language": m["language"],
                "redactions": m["redactions"],
                "received_at": _iso(m["received_at"]),
                "routed_at": _iso(m["routed_at"]),
            }
            for m in messages
        ],
        "customer_open_tickets": [
            {
                "ticket_id": str(o["ticket_id"]),
                "channel": o["channel"],
                "status": o["status"],
                "priority": o["priority"],
                "skill_group": o["skill_group"],
            }
            for o in others
        ],
    }


async def ticket_id_of_message(conn: asyncpg.Connection, message_id: uuid.UUID) -> uuid.UUID | None:
    value: uuid.UUID | None = await conn.fetchval(
        "SELECT ticket_id FROM messages WHERE message_id = $1", message_id
    )
    return value
