"""The router against the real broker and database: envelopes in, tickets and events out.

Envelopes are produced straight to `inbound.messages.v1` (no intake), so the tests can also send
what no intake would: duplicates, garbage, text PostgreSQL cannot hold. A record that can never
be processed must be dead-lettered without stopping the records behind it in its partition.

Records that would make the router's batch handler raise are first tried in-process against a
`RouterPipeline` on the real database (with a recording producer), and only produced to the
shared topic when the handler survives them: a poison record on the stack's topic would block
that partition for every test and every engineer until someone moved the group's offset.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import msgspec
import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from services.intake.channels.redacting import redact_envelope
from services.router.identity import IdentityHasher
from services.router.pipeline import RouterPipeline
from services.router.rules import RulesHolder
from shared.db import create_pool
from shared.dead_letters import DeadLetter
from shared.models import InboundMessage, TicketRouted, message_id_for
from shared.topics import INBOUND, ROUTED, ROUTER_DEAD_LETTERS
from tests.integration.procs import Records, end_offsets, produce, read_topic

ROUTE_TIMEOUT_S = 45.0
_encode = msgspec.json.Encoder().encode
_routed = msgspec.json.Decoder(TicketRouted).decode
_dead = msgspec.json.Decoder(DeadLetter).decode


# --- helpers ---------------------------------------------------------------------------------


def envelope(
    run: str,
    name: str,
    *,
    channel: str = "chat",
    body: str = "The app crashes every time I open it",
    conversation_key: str | None = None,
    external_id: str | None = None,
    **fields: Any,
) -> InboundMessage:
    external_id = external_id or f"{run}-{name}"
    return InboundMessage(
        message_id=message_id_for(channel, external_id),
        channel=channel,  # type: ignore[arg-type]
        external_id=external_id,
        conversation_key=conversation_key or f"{channel}:{run}-{name}",
        received_at=datetime.now(UTC),
        body=body,
        **fields,
    )


def record_of(message: InboundMessage) -> tuple[str, bytes, bytes]:
    return INBOUND, message.conversation_key.encode(), _encode(message)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def ticket_of(
    http: aiohttp.ClientSession, env: dict[str, str], message_id: str, timeout: float
) -> dict[str, Any]:
    """GET /v1/tickets?message_id= until the router has stored the message (404 until then)."""
    deadline = time.monotonic() + timeout
    while True:
        async with http.get(
            f"{env['ROUTER_URL']}/v1/tickets",
            params={"message_id": message_id},
            headers=auth(env["AGENT_TOKEN"]),
        ) as resp:
            if resp.status == 200:
                ticket: dict[str, Any] = await resp.json()
                return ticket
            assert resp.status == 404, await resp.text()
        if time.monotonic() > deadline:
            raise AssertionError(f"message {message_id} not routed within {timeout}s")
        await asyncio.sleep(0.2)


async def routed_events(
    env: dict[str, str],
    start: dict[TopicPartition, int],
    message_ids: set[str],
    *,
    settle_s: float = 0.0,
) -> dict[str, list[TicketRouted]]:
    """Events on tickets.routed.v1 since ``start`` for ``message_ids`` (waits for every one)."""

    def ours(records: Records) -> dict[str, list[TicketRouted]]:
        found: dict[str, list[TicketRouted]] = {}
        for r in records:
            event = _routed(r.value)
            if event.message_id in message_ids:
                found.setdefault(event.message_id, []).append(event)
        return found

    records = await read_topic(
        env["KAFKA_BOOTSTRAP_SERVERS"],
        ROUTED,
        start=start,
        done=lambda rs: set(ours(rs)) >= message_ids,
        timeout=ROUTE_TIMEOUT_S,
        settle_s=settle_s,
    )
    return ours(records)


async def dead_letters_of(
    env: dict[str, str], start: dict[TopicPartition, int], values: set[bytes]
) -> dict[bytes, list[tuple[bytes | None, DeadLetter]]]:
    """Dead letters since ``start`` whose original value is one of ``values`` (waits for all)."""

    def ours(records: Records) -> dict[bytes, list[tuple[bytes | None, DeadLetter]]]:
        found: dict[bytes, list[tuple[bytes | None, DeadLetter]]] = {}
        for r in records:
            letter = _dead(r.value)
            original = base64.b64decode(letter.value_b64)
            if original in values:
                found.setdefault(original, []).append((r.key, letter))
        return found

    records = await read_topic(
        env["KAFKA_BOOTSTRAP_SERVERS"],
        ROUTER_DEAD_LETTERS,
        start=start,
        done=lambda rs: set(ours(rs)) >= values,
        timeout=ROUTE_TIMEOUT_S,
    )
    return ours(records)


class RecordingProducer:
    """Stands in for ResilientProducer in the in-process pipeline: records, never sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send_many(self, records: list[tuple[str, bytes, bytes]]) -> None:
        self.sent.extend(records)

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((topic, key, value))


@contextlib.asynccontextmanager
async def local_pipeline(
    stack_env: dict[str, str], recorder: RecordingProducer
) -> AsyncIterator[RouterPipeline]:
    """The router's pipeline in this process, on the stack's database, publishing to
    ``recorder``: what a record does to the handler, without Kafka in between."""
    pool = await create_pool(stack_env["DATABASE_URL"], min_size=1, max_size=2)
    try:
        yield RouterPipeline(
            pool,
            recorder,  # type: ignore[arg-type]
            RulesHolder(None),
            IdentityHasher(b"switchboard-local"),
        )
    finally:
        await pool.close()


def consumer_record(key: bytes, value: bytes, offset: int) -> ConsumerRecord:
    return ConsumerRecord(
        topic=INBOUND,
        partition=0,
        offset=offset,
        timestamp=int(time.time() * 1000),
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value),
        headers=(),
    )


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


@pytest.fixture
async def db(stack_env: dict[str, str]) -> AsyncIterator[asyncpg.Connection]:
    conn: asyncpg.Connection = await asyncpg.connect(stack_env["DATABASE_URL"])
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def run() -> str:
    return uuid.uuid4().hex[:12]


# --- tests -----------------------------------------------------------------------------------


async def test_envelopes_of_every_channel_become_tickets_and_routed_events(
    stack_env: dict[str, str], http: aiohttp.ClientSession, run: str
) -> None:
    bootstrap = stack_env["KAFKA_BOOTSTRAP_SERVERS"]
    card, phone = "4111 1111 1111 1111", "13800138000"  # the card passes the Luhn check
    messages = {
        "chat": envelope(run, "chat", body="The app crashes every time I open it"),
        "phone": envelope(
            run, "phone", channel="phone", body="我的钱包被偷了，请马上冻结", ivr_selection=["1"]
        ),
        "email": envelope(
            run,
            "email",
            channel="email",
            subject="Top-up not arrived",
            body="I topped up 500 yuan yesterday and it has not arrived in my wallet.",
        ),
        "social": envelope(
            run,
            "social",
            channel="social",
            platform="weibo",
            visibility="public",
            author_handle=f"user_{run}",
            body=f"@wallet my card {card} was charged twice! call me {phone}",
        ),
    }
    start = await end_offsets(bootstrap, ROUTED)
    await produce(bootstrap, [record_of(m) for m in messages.values()])

    tickets = {
        ch: await ticket_of(http, stack_env, m.message_id, ROUTE_TIMEOUT_S)
        for ch, m in messages.items()
    }
    for channel, ticket in tickets.items():
        assert ticket["channel"] == channel
        assert ticket["status"] == "waiting"
        assert [m["message_id"] for m in ticket["messages"]] == [messages[channel].message_id]
        assert ticket["priority"] in {"P1", "P2", "P3", "P4"}
        assert ticket["reasons"], ticket
    assert (tickets["phone"]["skill_group"], tickets["phone"]["priority"]) == ("security", "P1")
    assert tickets["social"]["redacted"] is True
    stored = tickets["social"]["messages"][0]["body"]
    assert card not in stored and phone not in stored and "charged twice" in stored
    assert tickets["social"]["priority"] in {"P1", "P2"}  # a public post is at least P2

    events = await routed_events(
        stack_env, start, {m.message_id for m in messages.values()}, settle_s=1.0
    )
    for channel, message in messages.items():
        [event] = events[message.message_id]  # exactly one event per routed message
        ticket = tickets[channel]
        assert event.ticket_id == ticket["ticket_id"]
        assert event.change == "created"
        assert event.channel == channel
        assert (event.priority, event.skill_group, event.intent) == (
            ticket["priority"],
            ticket["skill_group"],
            ticket["intent"],
        )


async def test_the_same_message_id_twice_is_one_message(
    stack_env: dict[str, str], http: aiohttp.ClientSession, db: asyncpg.Connection, run: str
) -> None:
    bootstrap = stack_env["KAFKA_BOOTSTRAP_SERVERS"]
    first = envelope(run, "dup", body="I was charged twice for one payment")
    # The same id again, even with other content: an integration retrying, or a redelivery.
    again = msgspec.structs.replace(first, body="I was charged twice for one payment!!")
    start = await end_offsets(bootstrap, ROUTED)
    await produce(bootstrap, [record_of(first), record_of(again)])  # most likely one batch
    ticket = await ticket_of(http, stack_env, first.message_id, ROUTE_TIMEOUT_S)

    # Once more after it was stored (another batch), then a new message of the same
    # conversation: once that one is routed, the duplicate before it was handled.
    later = envelope(run, "dup-later", body="any news?", conversation_key=first.conversation_key)
    await produce(bootstrap, [record_of(first), record_of(later)])
    await ticket_of(http, stack_env, later.message_id, ROUTE_TIMEOUT_S)

    rows = await db.fetch(
        "SELECT message_id, ticket_id, body FROM messages WHERE message_id = $1",
        uuid.UUID(first.message_id),
    )
    assert len(rows) == 1
    assert rows[0]["body"] == first.body  # the first copy won; later copies changed nothing
    assert (
        await db.fetchval(
            "SELECT count(*) FROM tickets WHERE conversation_key = $1", first.conversation_key
        )
        == 1
    )
    ticket = await ticket_of(http, stack_env, later.message_id, 5)
    assert [m["message_id"] for m in ticket["messages"]] == [first.message_id, later.message_id]

    events = await routed_events(
        stack_env, start, {first.message_id, later.message_id}, settle_s=1.0
    )
    assert len(events[first.message_id]) == 1, "a duplicate was published again"
    assert [e.change for e in events[later.message_id]] == ["appended"]


async def test_an_email_reply_threads_into_the_first_emails_ticket(
    stack_env: dict[str, str], http: aiohttp.ClientSession, run: str
) -> None:
    bootstrap = stack_env["KAFKA_BOOTSTRAP_SERVERS"]
    root_id = f"{run}.root@mail.example.com"
    reply_id = f"{run}.reply@mail.example.com"
    late_id = f"{run}.late@mail.example.com"
    subject = "Withdrawal failed"
    root = envelope(
        run,
        "root",
        channel="email",
        external_id=root_id,
        conversation_key=f"email:{root_id}",
        subject=subject,
        body="My withdrawal of 300 yuan failed but the money left my balance.",
    )
    # Envelopes as the intake makes them: the root of References is the conversation key.
    reply = envelope(
        run,
        "reply",
        channel="email",
        external_id=reply_id,
        conversation_key=f"email:{root_id}",
        subject=f"Re: {subject}",
        body="Any update? It is still missing.",
        references=[root_id],
    )
    # A client that kept only In-Reply-To (the reply): its conversation key is the reply's id,
    # so only the reply's own Message-ID can thread it.
    late = envelope(
        run,
        "late",
        channel="email",
        external_id=late_id,
        conversation_key=f"email:{reply_id}",
        subject=f"Re: Re: {subject}",
        body="Third mail about the same withdrawal.",
        references=[reply_id],
    )
    start = await end_offsets(bootstrap, ROUTED)
    ticket_ids = []
    for message in (root, reply, late):  # one at a time: a reply never overtakes its parent
        await produce(bootstrap, [record_of(message)])
        ticket = await ticket_of(http, stack_env, message.message_id, ROUTE_TIMEOUT_S)
        ticket_ids.append(ticket["ticket_id"])
    assert ticket_ids[1:] == ticket_ids[:1] * 2, "a reply opened a ticket of its own"
    assert [m["message_id"] for m in ticket["messages"]] == [
        root.message_id,
        reply.message_id,
        late.message_id,
    ]
    events = await routed_events(stack_env, start, {m.message_id for m in (root, reply, late)})
    assert [events[m.message_id][0].change for m in (root, reply, late)] == [
        "created",
        "appended",
        "appended",
    ]
    assert {events[m.message_id][0].ticket_id for m in (root, reply, late)} == {ticket_ids[0]}


async def test_a_message_on_a_resolved_ticket_reopens_it(
    stack_env: dict[str, str], http: aiohttp.ClientSession, run: str
) -> None:
    bootstrap = stack_env["KAFKA_BOOTSTRAP_SERVERS"]
    first = envelope(run, "first", body="I forgot my payment password")
    start = await end_offsets(bootstrap, ROUTED)
    await produce(bootstrap, [record_of(first)])
    ticket = await ticket_of(http, stack_env, first.message_id, ROUTE_TIMEOUT_S)
    ticket_id = ticket["ticket_id"]

    async with http.post(
        f"{stack_env['ROUTER_URL']}/v1/tickets/{ticket_id}/events",
        json={"type": "resolved", "agent_id": f"agent-{run}", "at": datetime.now(UTC).isoformat()},
        headers=auth(stack_env["AGENT_TOKEN"]),
    ) as resp:
        assert resp.status == 202, await resp.text()
    resolved = await ticket_of(http, stack_env, first.message_id, 5)
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None

    again = envelope(
        run,
        "again",
        body="It happened again, I still cannot pay",
        conversation_key=first.conversation_key,
    )
    await produce(bootstrap, [record_of(again)])
    reopened = await ticket_of(http, stack_env, again.message_id, ROUTE_TIMEOUT_S)
    assert reopened["ticket_id"] == ticket_id
    assert reopened["status"] == "waiting"
    assert reopened["resolved_at"] is None
    assert [m["message_id"] for m in reopened["messages"]] == [first.message_id, again.message_id]

    events = await routed_events(stack_env, start, {first.message_id, again.message_id})
    assert [e.change for e in events[first.message_id]] == ["created"]
    assert [e.change for e in events[again.message_id]] == ["reopened"]
    assert events[again.message_id][0].ticket_id == ticket_id


async def test_garbage_is_dead_lettered_and_does_not_stop_its_partition(
    stack_env: dict[str, str], http: aiohttp.ClientSession, run: str
) -> None:
    bootstrap = stack_env["KAFKA_BOOTSTRAP_SERVERS"]
    sentinel = envelope(run, "after-garbage", body="my top-up has not arrived")
    key = sentinel.conversation_key.encode()  # same key: same partition, behind the garbage
    valid = msgspec.json.decode(_encode(sentinel))
    garbage = {
        f"not json {run} \x00\xff{{".encode(),
        _encode({"hello": "world", "run": run}),  # JSON, but no envelope
        _encode({**valid, "schema": "inbound.message.v9", "external_id": f"{run}-v9"}),
        _encode({**valid, "channel": "fax", "external_id": f"{run}-fax"}),
    }
    dead_start = await end_offsets(bootstrap, ROUTER_DEAD_LETTERS)
    inbound_start = await end_offsets(bootstrap, INBOUND)
    await produce(bootstrap, [*((INBOUND, key, g) for g in garbage), record_of(sentinel)])

    ticket = await ticket_of(http, stack_env, sentinel.message_id, ROUTE_TIMEOUT_S)
    assert [m["message_id"] for m in ticket["messages"]] == [sentinel.message_id]

    letters = await dead_letters_of(stack_env, dead_start, garbage)
    for value in garbage:
        [(dl_key, letter)] = letters[value]  # exactly once
        assert letter.reason == "invalid_envelope"
        assert letter.source_topic == INBOUND
        assert dl_key == key
        tp = TopicPartition(INBOUND, letter.source_partition)
        assert letter.source_offset >= inbound_start[tp]
    assert len({letter.source_partition for [(_, letter)] in letters.values()}) == 1


def _hostile(run: str, sentinel_key: str) -> dict[str, bytes]:
    """Records with text PostgreSQL cannot hold, by name."""

    def env(name: str, **fields: Any) -> InboundMessage:
        return envelope(run, name, **fields)

    def raw(name: str, replacement: bytes) -> bytes:
        return _encode(env(name, body="before @@HOLE@@ after")).replace(b"@@HOLE@@", replacement)

    email = env(
        "nul-subject",
        channel="email",
        subject="Refund\x00 request",
        body="Please\x00 refund order 2231",
        quoted="> earlier\x00 mail",
    )
    return {
        "nul-body": _encode(env("nul-body", body="my top-up\x00 never arrived")),
        "nul-subject-quoted": _encode(email),
        "escaped-lone-surrogate": raw("escaped-surrogate", b"\\ud83d"),
        "raw-surrogate-bytes": raw("raw-surrogate", b"\xed\xa0\xbd"),  # WTF-8 from Java/JS
        "invalid-utf8": raw("invalid-utf8", b"\xff\xfe"),
        "nul-external-id": _encode(env("nul-ext", external_id=f"{run}-ext\x00")),
        "nul-attribute": _encode(env("nul-attr", attributes={"tier": "vip\x00"})),
        "nul-conversation-key": _encode(env("nul-conv", conversation_key=f"{sentinel_key}\x00")),
    }


async def _outcomes(
    db: asyncpg.Connection, values: dict[str, bytes], dead_values: set[bytes]
) -> dict[str, str]:
    """Per record: "stored" (its message row exists, text clean), "dead" or "lost"."""
    outcome: dict[str, str] = {}
    for name, value in values.items():
        try:
            message_id = msgspec.json.decode(value)["message_id"]
        except (msgspec.DecodeError, UnicodeDecodeError):
            message_id = None
        row = None
        if message_id is not None:
            row = await db.fetchrow(
                "SELECT body, subject, quoted FROM messages WHERE message_id = $1",
                uuid.UUID(message_id),
            )
        stored, dead = row is not None, value in dead_values
        assert not (stored and dead), f"{name}: both stored and dead-lettered"
        if stored:
            for column in ("body", "subject", "quoted"):
                assert "\x00" not in (row[column] or ""), f"{name}: NUL stored in {column}"
        outcome[name] = "stored" if stored else "dead" if dead else "lost"
    return outcome


async def test_text_postgres_cannot_hold_is_sanitized_or_dead_lettered_never_blocking(
    stack_env: dict[str, str], http: aiohttp.ClientSession, db: asyncpg.Connection, run: str
) -> None:
    bootstrap = stack_env["KAFKA_BOOTSTRAP_SERVERS"]

    # 1. In-process, on the real database: which records would make the handler raise?
    recorder = RecordingProducer()
    async with local_pipeline(stack_env, recorder) as pipeline:
        local = _hostile(f"{run}-local", f"chat:{run}-local")
        poison: dict[str, str] = {}
        for offset, (name, value) in enumerate(local.items()):
            try:
                await pipeline.handle([consumer_record(b"k", value, offset)])
            except Exception as exc:
                poison[name] = f"{type(exc).__name__}: {exc}"
    local_dead = {
        base64.b64decode(_dead(v).value_b64)
        for t, _, v in recorder.sent
        if t == ROUTER_DEAD_LETTERS
    }
    local_outcomes = await _outcomes(
        db, {n: v for n, v in local.items() if n not in poison}, local_dead
    )
    assert "lost" not in local_outcomes.values(), local_outcomes

    # 2. Through Kafka and the stack's router: the survivors, then a sentinel on the same key.
    sentinel = envelope(run, "sentinel", body="my withdrawal failed")
    key = sentinel.conversation_key
    hostile = {n: v for n, v in _hostile(run, key).items() if n not in poison}
    dead_start = await end_offsets(bootstrap, ROUTER_DEAD_LETTERS)
    await produce(
        bootstrap, [*((INBOUND, key.encode(), v) for v in hostile.values()), record_of(sentinel)]
    )
    await ticket_of(http, stack_env, sentinel.message_id, ROUTE_TIMEOUT_S)  # partition not blocked

    expected_dead = {v for n, v in hostile.items() if local_outcomes[n] == "dead"}
    letters = await dead_letters_of(stack_env, dead_start, expected_dead)
    outcomes = await _outcomes(db, hostile, set(letters))
    assert outcomes == {n: local_outcomes[n] for n in hostile}
    for value in expected_dead:
        assert len(letters[value]) == 1
    stored = await db.fetchval(
        "SELECT body FROM messages WHERE message_id = $1",
        uuid.UUID(msgspec.json.decode(hostile["nul-body"])["message_id"]),
    )
    assert stored == "my top-up never arrived"
    assert {n for n, o in outcomes.items() if o == "dead"} >= {
        "escaped-lone-surrogate",
        "raw-surrogate-bytes",
        "invalid-utf8",
    }

    assert not poison, (
        "these records make RouterPipeline.handle raise, so the consume loop would retry them "
        f"forever and block their partition: {poison}"
    )


def _off_contract(run: str) -> dict[str, bytes]:
    """Envelopes that decode but break what the rest of the system relies on."""
    bad_id = msgspec.structs.replace(envelope(run, "bad-id"), message_id=f"not-a-uuid-{run}")
    naive = msgspec.json.decode(_encode(envelope(run, "naive-time")))
    naive["received_at"] = "2026-11-02T09:15:00"  # no offset: the SLA cannot place it in time
    return {"message-id-not-a-uuid": _encode(bad_id), "received-at-without-offset": _encode(naive)}


@pytest.mark.parametrize("case", ["message-id-not-a-uuid", "received-at-without-offset"])
async def test_an_envelope_that_breaks_the_contract_is_dead_lettered(
    stack_env: dict[str, str], run: str, case: str
) -> None:
    """In-process only (see the module docstring): the record must not raise out of handle
    (that would block its partition), nor be routed into an event other services reject."""
    value = _off_contract(run)[case]
    recorder = RecordingProducer()
    async with local_pipeline(stack_env, recorder) as pipeline:
        await pipeline.handle([consumer_record(b"k", value, 0)])
    for topic, _, event in recorder.sent:
        if topic == ROUTED:
            routed = _routed(event)
            assert routed.ticket_created_at.tzinfo is not None, f"routed without offset: {event!r}"
    letters = [_dead(v) for t, _, v in recorder.sent if t == ROUTER_DEAD_LETTERS]
    assert [letter.reason for letter in letters] == ["invalid_envelope"]


async def test_a_masked_card_flags_the_ticket_redacted_on_every_channel(
    stack_env: dict[str, str], db: asyncpg.Connection, run: str
) -> None:
    """In-process on the real database: a card masked by the intake (counts in the envelope)
    or by the router sets ``redacted`` on the new ticket, on a ticket it is appended to, and on
    the routed event; the counts are stored once, not twice."""
    card = "6222 0212 3456 7894"
    by_intake = redact_envelope(envelope(run, "by-intake", body=f"my card {card} was charged"))
    assert by_intake.redactions == {"card_number": 1}
    by_router = envelope(run, "by-router", channel="email", body=f"card {card} please block")
    clean = envelope(run, "clean", channel="phone", body="the app crashes")
    appended = envelope(
        run,
        "appended",
        channel="phone",
        body=f"card {card}",
        conversation_key=clean.conversation_key,
    )
    recorder = RecordingProducer()
    async with local_pipeline(stack_env, recorder) as pipeline:
        messages = [by_intake, by_router, clean]
        await pipeline.handle(
            [consumer_record(b"k", _encode(m), n) for n, m in enumerate(messages)]
        )
        flag = "SELECT t.redacted, m.redactions::text, m.body FROM tickets t JOIN messages m "
        flag += "USING (ticket_id) WHERE m.message_id = $1"
        row = await db.fetchrow(flag, uuid.UUID(clean.message_id))
        assert row is not None and row["redacted"] is False
        await pipeline.handle([consumer_record(b"k", _encode(appended), 3)])
    for message in (by_intake, by_router, appended):
        row = await db.fetchrow(flag, uuid.UUID(message.message_id))
        assert row is not None and row["redacted"] is True, message.external_id
        assert msgspec.json.decode(row["redactions"]) == {"card_number": 1}
        assert card not in row["body"] and "[card ****7894]" in row["body"]
    events = {e.message_id: e for e in (_routed(v) for t, _, v in recorder.sent if t == ROUTED)}
    assert events[by_intake.message_id].redacted and events[by_router.message_id].redacted
    assert events[appended.message_id].redacted and not events[clean.message_id].redacted
