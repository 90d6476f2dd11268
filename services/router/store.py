"""One transaction per batch: messages, tickets, thread keys, customers and the outbox.

The reads go in one statement (``= ANY($1)``) and the writes in another (``unnest`` arrays), so
a batch of 1 and of 1,000 take the same four round trips: BEGIN, reads, writes, COMMIT. A
message id already stored is skipped: that is what makes re-delivery after a crash harmless.
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

    @property
    def redacted(self) -> bool:
        """Social posts always go through full redaction; any other message when something
        was taken out of it (a card number, by the intake or by the router)."""
        return self.message.channel == "social" or any(self.redactions.values())


@dataclass(frozen=True)
class Stored:
    outbox_ids: list[int]
    records: list[tuple[str, bytes, bytes]]
    events: list[TicketRouted]
    routed: list[Routed]
    duplicates: int


# Every read of a batch in one statement (one round trip), rows told apart by ``src``: the
# message ids already stored, the tickets the batch's thread keys lead to (locked until the
# commit), and the customers its identities belong to.
_READ = """
WITH threads AS MATERIALIZED (
    SELECT k.thread_key, t.ticket_id, t.status, t.priority, t.skill_group, t.intent,
           t.customer_id, t.created_at, t.assigned_agent, t.waiting_since
    FROM thread_keys k JOIN tickets t USING (ticket_id)
    WHERE k.thread_key = ANY($2::text[])
    FOR UPDATE OF t
)
SELECT 'message' AS src, message_id, NULL::text AS thread_key, NULL::uuid AS ticket_id,
       NULL::text AS status, NULL::text AS priority, NULL::text AS skill_group,
       NULL::text AS intent, NULL::uuid AS customer_id, NULL::timestamptz AS created_at,
       NULL::text AS assigned_agent, NULL::timestamptz AS waiting_since,
       NULL::text AS kind, NULL::text AS value_hash
FROM messages WHERE message_id = ANY($1::uuid[])
UNION ALL
SELECT 'thread', NULL, thread_key, ticket_id, status, priority, skill_group, intent,
       customer_id, created_at, assigned_agent, waiting_since, NULL, NULL
FROM threads
UNION ALL
SELECT 'identity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, i.customer_id, NULL, NULL, NULL,
       i.kind, i.value_hash
FROM customer_identities i
JOIN unnest($3::text[], $4::text[]) AS p(kind, value_hash) USING (kind, value_hash)
"""


@dataclass
class _Known:
    existing: set[str]
    by_key: dict[str, TicketState]
    customers: dict[tuple[str, str], uuid.UUID]


async def _read(
    conn: asyncpg.Connection, items: list[Routed], pairs: set[tuple[str, str]]
) -> _Known:
    keys = {k for i in items for k in lookup_keys(i.message)}
    kinds, hashes = zip(*pairs, strict=True) if pairs else ((), ())
    rows = await conn.fetch(
        _READ,
        [i.message.message_id for i in items],  # validated UUID text; asyncpg encodes it
        list(keys),
        list(kinds),
        list(hashes),
    )
    known = _Known(set(), {}, {})
    by_id: dict[uuid.UUID, TicketState] = {}
    for r in rows:
        src = r["src"]
        if src == "message":
            known.existing.add(str(r["message_id"]))
        elif src == "identity":
            known.customers[(r["kind"], r["value_hash"])] = r["customer_id"]
        else:
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
            known.by_key[r["thread_key"]] = state
    return known


class CustomerLinker:
    """Finds or creates the customer behind each message, within one transaction."""

    def __init__(self, hasher: IdentityHasher) -> None:
        self._hash = hasher
        self._pairs: dict[str, list[tuple[str, str]]] = {}
        self._known: dict[tuple[str, str], uuid.UUID] = {}
        self.new_customers: list[uuid.UUID] = []
        self.new_identities: list[tuple[str, str, uuid.UUID]] = []

    def pairs(self, message: InboundMessage) -> list[tuple[str, str]]:
        """(kind, keyed hash) of the message's identities, hashed once per message."""
        found = self._pairs.get(message.message_id)
        if found is None:
            found = self._pairs[message.message_id] = [
                (k, self._hash(k, v)) for k, v in identities(message)
            ]
        return found

    def preload(self, known: dict[tuple[str, str], uuid.UUID]) -> None:
        self._known.update(known)

    def resolve(self, message: InboundMessage) -> uuid.UUID | None:
        pairs = self.pairs(message)
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
    linker = CustomerLinker(hasher)
    pairs = {p for i in items for p in linker.pairs(i.message)}
    async with conn.transaction():
        known = await _read(conn, items, pairs)
        linker.preload(known.customers)
        existing, by_key = known.existing, known.by_key
        fresh: list[Routed] = []
        for item in items:
            mid = item.message.message_id
            if mid not in existing:
                existing.add(mid)
                fresh.append(item)

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

        records, events = _events(plan, now)
        outbox_ids = await _write(conn, plan, new_keys, linker, records, now)
    return Stored(outbox_ids, records, events, fresh, len(items) - len(fresh))


# Every write of a batch in one statement (one round trip): each table gets its rows as arrays.
# Foreign keys are checked at the end of the statement, so the sibling inserts see each other.
_WRITE = """
WITH new_customers AS (
    INSERT INTO customers (customer_id) SELECT unnest($1::uuid[])
), new_identities AS (
    INSERT INTO customer_identities (kind, value_hash, customer_id)
    SELECT * FROM unnest($2::text[], $3::text[], $4::uuid[])
    ON CONFLICT DO NOTHING
), new_tickets AS (
    INSERT INTO tickets (ticket_id, conversation_key, status, channel, priority, skill_group,
        intent, language, reasons, redacted, customer_id, created_at, updated_at, waiting_since)
    SELECT t.ticket_id, t.conversation_key, t.status, t.channel, t.priority, t.skill_group,
        t.intent, t.language, t.reasons::jsonb, t.redacted, t.customer_id,
        t.created_at, $44, t.waiting_since
    FROM unnest($5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
        $11::text[], $12::text[], $13::text[], $14::uuid[], $15::timestamptz[],
        $16::timestamptz[], $17::bool[])
        AS t(ticket_id, conversation_key, status, channel, priority, skill_group, intent,
             language, reasons, customer_id, created_at, waiting_since, redacted)
), changed_tickets AS (
    UPDATE tickets SET status = u.status, priority = u.priority, skill_group = u.skill_group,
        intent = u.intent, customer_id = u.customer_id, updated_at = $44,
        waiting_since = u.waiting_since, assigned_agent = u.assigned_agent,
        resolved_at = CASE WHEN u.reopened THEN NULL ELSE tickets.resolved_at END,
        redacted = tickets.redacted OR u.redacted
    FROM unnest($18::uuid[], $19::text[], $20::text[], $21::text[], $22::text[], $23::uuid[],
        $24::timestamptz[], $25::text[], $26::bool[], $27::bool[])
        AS u(ticket_id, status, priority, skill_group, intent, customer_id, waiting_since,
             assigned_agent, reopened, redacted)
    WHERE tickets.ticket_id = u.ticket_id
), new_keys AS (
    INSERT INTO thread_keys (thread_key, ticket_id)
    SELECT * FROM unnest($28::text[], $29::uuid[])
    ON CONFLICT DO NOTHING
), new_messages AS (
    INSERT INTO messages (message_id, ticket_id, channel, external_id, subject, body, quoted,
        language, redactions, attributes, received_at, routed_at)
    SELECT m.message_id, m.ticket_id, m.channel, m.external_id, m.subject, m.body, m.quoted,
        m.language, m.redactions::jsonb, m.attributes::jsonb, m.received_at, $44
    FROM unnest($30::uuid[], $31::uuid[], $32::text[], $33::text[], $34::text[], $35::text[],
        $36::text[], $37::text[], $38::text[], $39::text[], $40::timestamptz[])
        AS m(message_id, ticket_id, channel, external_id, subject, body, quoted, language,
             redactions, attributes, received_at)
)
INSERT INTO outbox (topic, key, value)
SELECT * FROM unnest($41::text[], $42::bytea[], $43::bytea[])
RETURNING id
"""


def _json(value: object) -> str:
    return _encode(value).decode()


def _columns(rows: list[tuple[object, ...]], width: int) -> list[list[object]]:
    """Rows to per-column lists (unnest's arrays); empty lists when there are no rows."""
    return [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


async def _write(
    conn: asyncpg.Connection,
    plan: list[tuple[Routed, TicketState, Change]],
    new_keys: list[tuple[str, uuid.UUID]],
    linker: CustomerLinker,
    records: list[tuple[str, bytes, bytes]],
    now: datetime,
) -> list[int]:
    """Write the batch; returns the outbox ids of ``records``."""
    if not plan:
        return []
    tickets: dict[uuid.UUID, tuple[Routed, TicketState]] = {}
    redacted: dict[uuid.UUID, bool] = {}
    for item, ticket, _ in plan:
        tickets.setdefault(ticket.ticket_id, (item, ticket))
        redacted[ticket.ticket_id] = redacted.get(ticket.ticket_id, False) or item.redacted
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
            _json(list(i.reasons)),
            t.customer_id,
            t.created_at,
            t.waiting_since,
            redacted[t.ticket_id],
        )
        for i, t in tickets.values()
        if t.is_new
    ]
    updates = [
        (
            t.ticket_id,
            t.status,
            t.priority,
            t.skill_group,
            t.intent,
            t.customer_id,
            t.waiting_since,
            t.assigned_agent,
            t.reopened,
            redacted[t.ticket_id],
        )
        for _, t in tickets.values()
        if not t.is_new and t.dirty
    ]
    messages = [
        (
            i.message.message_id,
            t.ticket_id,
            i.message.channel,
            i.message.external_id,
            i.subject,
            i.body,
            i.quoted,
            i.language,
            _json(i.redactions),
            _json(dict(i.message.attributes)),
            i.message.received_at,
        )
        for i, t, _ in plan
    ]
    rows = await conn.fetch(
        _WRITE,
        linker.new_customers,
        *_columns(cast(list[tuple[object, ...]], linker.new_identities), 3),
        *_columns(cast(list[tuple[object, ...]], inserts), 13),
        *_columns(cast(list[tuple[object, ...]], updates), 10),
        *_columns(cast(list[tuple[object, ...]], new_keys), 2),
        *_columns(cast(list[tuple[object, ...]], messages), 11),
        *_columns(cast(list[tuple[object, ...]], records), 3),
        now,
    )
    return [r["id"] for r in rows]


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
            redacted=i.redacted,
        )
        for i, t, change in plan
    ]
    records = [(ROUTED, e.ticket_id.encode(), _encode(e)) for e in events]
    return records, events
