"""One transaction per batch: messages, tickets, thread keys, customers and the outbox.

Reads are bulk (``= ANY($1)``) and writes are ``executemany``, so the number of round trips is
the same for a batch of 1 and of 500. A message id already stored is skipped: that is what makes
re-delivery after a crash harmless.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import asyncpg
import msgspec

from services.router.identity import IdentityHasher, identities
from services.router.tickets import Change, TicketState, apply_message, lookup_keys, own_keys
from shared.models import InboundMessage, Priority, SkillGroup, TicketRouted
from shared.topics import ROUTED

_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class Routed:
    """A message after triage and redaction, ready to store."""

    message: InboundMessage
    intent: str
    skill_group: str
    priority: str
    language: str
    reasons: tuple[str, ...]
    body: str
    subject: str | None
    quoted: str | None
    redactions: dict[str, int]


@dataclass(frozen=True)
class Stored:
    outbox_ids: list[int]
    records: list[tuple[str, bytes, bytes]]
    events: list[TicketRouted]
    routed: list[Routed]
    duplicates: int


async def _existing_messages(conn: asyncpg.Connection, items: list[Routed]) -> set[uuid.UUID]:
    ids = [uuid.UUID(i.message.message_id) for i in items]
    rows = await conn.fetch(
        "SELECT message_id FROM messages WHERE message_id = ANY($1::uuid[])", ids
    )
    return {r["message_id"] for r in rows}


async def _tickets_by_key(conn: asyncpg.Connection, keys: set[str]) -> dict[str, TicketState]:
    rows = await conn.fetch(
        """
        SELECT k.thread_key, t.ticket_id, t.status, t.priority, t.skill_group, t.intent,
               t.customer_id, t.created_at, t.assigned_agent, t.waiting_since
        FROM thread_keys k JOIN tickets t USING (ticket_id)
        WHERE k.thread_key = ANY($1::text[])
        FOR UPDATE OF t
        """,
        list(keys),
    )
    by_id: dict[uuid.UUID, TicketState] = {}
    by_key: dict[str, TicketState] = {}
    for r in rows:
        state = by_id.get(r["ticket_id"])
        if state is None:
            state = by_id[r["ticket_id"]] = TicketState(
                ticket_id=r["ticket_id"],
                status=r["status"],
                priority=r["priority"],
                skill_group=r["skill_group"],
                intent=r["intent"],
                customer_id=r["customer_id"],
                created_at=r["created_at"],
                assigned_agent=r["assigned_agent"],
                waiting_since=r["waiting_since"],
            )
        state.keys.add(r["thread_key"])
        by_key[r["thread_key"]] = state
    return by_key


class CustomerLinker:
    """Finds or creates the customer behind each message, within one transaction."""

    def __init__(self, conn: asyncpg.Connection, hasher: IdentityHasher) -> None:
        self._conn = conn
        self._hash = hasher
        self._known: dict[tuple[str, str], uuid.UUID] = {}
        self.new_customers: list[uuid.UUID] = []
        self.new_identities: list[tuple[str, str, uuid.UUID]] = []

    async def preload(self, messages: list[InboundMessage]) -> None:
        pairs = {(k, self._hash(k, v)) for m in messages for k, v in identities(m)}
        if not pairs:
            return
        kinds, hashes = zip(*pairs, strict=True)
        rows = await self._conn.fetch(
            """
            SELECT i.kind, i.value_hash, i.customer_id FROM customer_identities i
            JOIN unnest($1::text[], $2::text[]) AS p(kind, value_hash) USING (kind, value_hash)
            """,
            list(kinds),
            list(hashes),
        )
        self._known.update({(r["kind"], r["value_hash"]): r["customer_id"] for r in rows})

    def resolve(self, message: InboundMessage) -> uuid.UUID | None:
        pairs = [(k, self._hash(k, v)) for k, v in identities(message)]
        if not pairs:
            return None
        customer = next((self._known[p] for p in pairs if p in self._known), None)
        if customer is None:
            customer = uuid.uuid4()
            self.new_customers.append(customer)
        for pair in pairs:
            if pair not in self._known:
                self._known[pair] = customer
                self.new_identities.append((pair[0], pair[1], customer))
        return customer


def _new_ticket(item: Routed, customer: uuid.UUID | None) -> TicketState:
    return TicketState(
        ticket_id=uuid.uuid4(),
        status="waiting",
        priority=item.priority,
        skill_group=item.skill_group,
        intent=item.intent,
        customer_id=customer,
        created_at=item.message.received_at,
        is_new=True,
        waiting_since=item.message.received_at,
    )


async def store_batch(
    conn: asyncpg.Connection, items: list[Routed], hasher: IdentityHasher, now: datetime
) -> Stored:
    async with conn.transaction():
        existing = await _existing_messages(conn, items)
        fresh: list[Routed] = []
        for item in items:
            mid = uuid.UUID(item.message.message_id)
            if mid not in existing:
                existing.add(mid)
                fresh.append(item)
        keys = {k for i in fresh for k in lookup_keys(i.message)}
        by_key = await _tickets_by_key(conn, keys) if keys else {}
        linker = CustomerLinker(conn, hasher)
        await linker.preload([i.message for i in fresh])

        plan: list[tuple[Routed, TicketState, Change]] = []
        new_keys: list[tuple[str, uuid.UUID]] = []
        for item in fresh:
            customer = linker.resolve(item.message)
            ticket = next((by_key[k] for k in lookup_keys(item.message) if k in by_key), None)
            change: Change = "created"
            if ticket is None:
                ticket = _new_ticket(item, customer)
            else:
                change = apply_message(
                    ticket,
                    priority=item.priority,
                    skill_group=item.skill_group,
                    intent=item.intent,
                    at=item.message.received_at,
                )
                if ticket.customer_id is None and customer is not None:
                    ticket.customer_id = customer
            for key in own_keys(item.message):
                if key not in by_key:
                    by_key[key] = ticket
                    new_keys.append((key, ticket.ticket_id))
            plan.append((item, ticket, change))

        await _write(conn, plan, new_keys, linker, now)
        records, events = _events(plan, now)
        outbox_ids = (
            [
                r["id"]
                for r in await conn.fetch(
                    "INSERT INTO outbox (topic, key, value) SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[]) RETURNING id",
                    [t for t, _, _ in records],
                    [k for _, k, _ in records],
                    [v for _, _, v in records],
                )
            ]
            if records
            else []
        )
    return Stored(outbox_ids, records, events, fresh, len(items) - len(fresh))


async def _write(
    conn: asyncpg.Connection,
    plan: list[tuple[Routed, TicketState, Change]],
    new_keys: list[tuple[str, uuid.UUID]],
    linker: CustomerLinker,
    now: datetime,
) -> None:
    if linker.new_customers:
        await conn.executemany(
            "INSERT INTO customers (customer_id) VALUES ($1)", [(c,) for c in linker.new_customers]
        )
    if linker.new_identities:
        await conn.executemany(
            "INSERT INTO customer_identities (kind, value_hash, customer_id) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING",
            linker.new_identities,
        )
    tickets: dict[uuid.UUID, tuple[Routed, TicketState]] = {}
    for item, ticket, _ in plan:
        tickets.setdefault(ticket.ticket_id, (item, ticket))
    inserts = [
        (
            t.ticket_id,
            i.message.conversation_key,
            t.status,
            i.message.channel,
            t.priority,
            t.skill_group,
            t.intent,
            i.language,
            list(i.reasons),
            i.message.channel == "social",
            t.customer_id,
            t.created_at,
            now,
            t.waiting_since,
        )
        for i, t in tickets.values()
        if t.is_new
    ]
    if inserts:
        await conn.executemany(
            """
            INSERT INTO tickets (ticket_id, conversation_key, status, channel, priority, skill_group,
                intent, language, reasons, redacted, customer_id, created_at, updated_at, waiting_since)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
            """,
            inserts,
        )
    updates = [
        (
            t.ticket_id,
            t.status,
            t.priority,
            t.skill_group,
            t.intent,
            t.customer_id,
            now,
            t.waiting_since,
            t.assigned_agent,
            t.reopened,
        )
        for _, t in tickets.values()
        if not t.is_new and t.dirty
    ]
    if updates:
        await conn.executemany(
            """
            UPDATE tickets SET status = $2, priority = $3, skill_group = $4, intent = $5,
                customer_id = $6, updated_at = $7, waiting_since = $8, assigned_agent = $9,
                resolved_at = CASE WHEN $10 THEN NULL ELSE resolved_at END
            WHERE ticket_id = $1
            """,
            updates,
        )
    if new_keys:
        await conn.executemany(
            "INSERT INTO thread_keys (thread_key, ticket_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            new_keys,
        )
    await conn.executemany(
        """
        INSERT INTO messages (message_id, ticket_id, channel, external_id, subject, body, quoted,
            language, redactions, attributes, received_at, routed_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        """,
        [
            (
                uuid.UUID(i.message.message_id),
                t.ticket_id,
                i.message.channel,
                i.message.external_id,
                i.subject,
                i.body,
                i.quoted,
                i.language,
                i.redactions,
                dict(i.message.attributes),
                i.message.received_at,
                now,
            )
            for i, t, _ in plan
        ],
    )


def _events(
    plan: list[tuple[Routed, TicketState, Change]], now: datetime
) -> tuple[list[tuple[str, bytes, bytes]], list[TicketRouted]]:
    events = [
        TicketRouted(
            ticket_id=str(t.ticket_id),
            message_id=i.message.message_id,
            channel=i.message.channel,
            priority=cast(Priority, t.priority),
            skill_group=cast(SkillGroup, t.skill_group),
            intent=t.intent,
            language=i.language,
            ticket_created_at=t.created_at,
            routed_at=now,
            change=change,
            visibility=i.message.visibility,
            redacted=i.message.channel == "social",
        )
        for i, t, change in plan
    ]
    records = [(ROUTED, e.ticket_id.encode(), _encode(e)) for e in events]
    return records, events
