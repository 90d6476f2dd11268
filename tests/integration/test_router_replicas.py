"""SPEC §7: nothing acknowledged is lost or duplicated when a router replica is killed mid-batch.

Two extra router processes join the stack's consumer group `router` (the stack's own router, when
it runs, is a third member). A stream of messages with distinct conversation keys is produced
across all partitions; one replica is SIGKILLed while it is routing (its routed counter is still
rising), with part of the stream not yet produced. Then every message must be stored exactly
once, and every stored message's event must be on `tickets.routed.v1`. Events may appear twice
on the topic only as byte-identical copies of one outbox row (published, then the process died
before deleting the row, and the relay published it again); consumers dedupe by message id.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
import asyncpg
import msgspec
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.models import InboundMessage, TicketRouted, message_id_for
from shared.topics import INBOUND, ROUTED
from tests.integration.procs import (
    Records,
    ServiceProcess,
    end_offsets,
    owned,
    read_topic,
    service_env,
)

MESSAGES = 3000
HOLD_AT = 2500  # the rest of the stream waits (trickles) until the replica was killed
WARM_CHUNK = 10
BURST_CHUNK = 500  # 2,000 messages/s: more than the routers keep up with, so batches are full
CHUNK_EVERY_S = 0.25
BURST_BEFORE_KILL_S = 0.75
REPLICA_PORTS = (18082, 18083)
TEXTS = (
    "The app crashes every time I open it",
    "I topped up 200 yuan and it has not arrived",
    "我的提现失败了，钱却扣了",
    "How do I earn points with the new promotion?",
    "付款失败但是扣款了，订单号 88231",
    "I forgot my payment password",
    "My refund for order 5521 never came",
    "账户被锁定了，怎么解锁",
)
_encode = msgspec.json.Encoder().encode
_routed = msgspec.json.Decoder(TicketRouted).decode
_COUNTER = r'^switchboard_router_messages_total\{{outcome="{}"\}} (\S+)$'


def stream(run: str) -> list[InboundMessage]:
    now = datetime.now(UTC)
    return [
        InboundMessage(
            message_id=message_id_for("chat", f"{run}-{i}"),
            channel="chat",
            external_id=f"{run}-{i}",
            conversation_key=f"chat:{run}-{i}",
            received_at=now,
            body=TEXTS[i % len(TEXTS)],
        )
        for i in range(MESSAGES)
    ]


async def counted(http: aiohttp.ClientSession, url: str, outcome: str = "routed") -> float:
    """A router's switchboard_router_messages_total{outcome=...} (0 when not exported yet)."""
    async with http.get(f"{url}/metrics") as resp:
        match = re.search(_COUNTER.format(outcome), await resp.text(), re.M)
    return float(match.group(1)) if match else 0.0


async def duplicates_seen(urls: list[str]) -> float:
    """Records the routers skipped as already stored: redeliveries after the crash."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
        total = 0.0
        for url in urls:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                total += await counted(http, url, "duplicate")
        return total


@dataclass
class Progress:
    produced: int = 0
    warm: asyncio.Event = field(default_factory=asyncio.Event)
    burst_since: float | None = None
    killed: asyncio.Event = field(default_factory=asyncio.Event)


async def produce_stream(
    bootstrap: str, messages: list[InboundMessage], progress: Progress
) -> float:
    """Warm-up trickle until every replica routes, then a burst faster than the routers go.

    From HOLD_AT on the burst falls back to a trickle until the victim was killed, so the kill
    always comes mid-stream. Returns the seconds the stream waited for the kill.
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=5)
    await producer.start()
    held = 0.0
    try:
        i = 0
        hold_deadline: float | None = None
        while i < len(messages):
            if not progress.warm.is_set():
                size = WARM_CHUNK
            elif i >= HOLD_AT and not progress.killed.is_set():
                hold_deadline = hold_deadline or time.monotonic() + 60
                assert time.monotonic() < hold_deadline, "the victim was not killed while held"
                size = WARM_CHUNK
                held += CHUNK_EVERY_S
            else:
                size = BURST_CHUNK
                progress.burst_since = progress.burst_since or time.monotonic()
            chunk = messages[i : i + size]
            futures = [
                await producer.send(INBOUND, key=m.conversation_key.encode(), value=_encode(m))
                for m in chunk
            ]
            await asyncio.gather(*futures)
            i += len(chunk)
            progress.produced = i
            await asyncio.sleep(CHUNK_EVERY_S)
    finally:
        await producer.stop()
    return held


async def kill_while_routing(
    replicas: list[ServiceProcess], progress: Progress, timeout: float = 90
) -> tuple[float, int]:
    """Once every replica routes, SIGKILL the first one inside the burst, right after its routed
    counter rose (a backlog is waiting: it is in the middle of a batch or about to fetch one).

    Returns what the victim had routed by then and how much of the stream was produced.
    """
    victim = replicas[0]
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
        while not progress.warm.is_set():
            assert time.monotonic() < deadline, "not every replica got partitions"
            routed = [await counted(http, r.url) for r in replicas]
            if all(routed):
                progress.warm.set()
            await asyncio.sleep(0.2)
        before = await counted(http, victim.url)
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            now = await counted(http, victim.url)
            burst = progress.burst_since
            in_burst = burst is not None and time.monotonic() - burst >= BURST_BEFORE_KILL_S
            if in_burst and now > before:
                await victim.kill()
                progress.killed.set()
                return now, progress.produced
            before = now
    raise AssertionError(f"{victim.name} did not route in the burst within {timeout}s")


async def wait_stored(db: asyncpg.Connection, ids: list[uuid.UUID], timeout: float) -> float:
    started = time.monotonic()
    deadline = started + timeout
    count = 0
    while time.monotonic() < deadline:
        count = await db.fetchval(
            "SELECT count(*) FROM messages WHERE message_id = ANY($1::uuid[])", ids
        )
        if count == len(ids):
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    raise AssertionError(f"only {count} of {len(ids)} messages stored within {timeout}s")


async def wait_committed(
    bootstrap: str, targets: dict[TopicPartition, int], timeout: float
) -> None:
    """Group `router` committed at least ``targets`` on every partition (no partition stuck)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        behind: dict[TopicPartition, tuple[int, int]] = {}
        while time.monotonic() < deadline:
            committed = await admin.list_consumer_group_offsets("router")
            behind = {
                tp: (committed[tp].offset if tp in committed else -1, end)
                for tp, end in targets.items()
                if tp not in committed or committed[tp].offset < end
            }
            if not behind:
                return
            await asyncio.sleep(0.5)
        raise AssertionError(f"group router did not commit past the stream: {behind}")
    finally:
        await admin.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_killing_a_router_replica_mid_stream_loses_and_duplicates_nothing(
    stack_env: dict[str, str],
) -> None:
    bootstrap = stack_env["KAFKA_BOOTSTRAP_SERVERS"]
    run = uuid.uuid4().hex[:12]
    messages = stream(run)
    ids = [uuid.UUID(m.message_id) for m in messages]
    replicas = [ServiceProcess("router", p, service_env(stack_env, p)) for p in REPLICA_PORTS]
    victim = replicas[0]
    routed_start = await end_offsets(bootstrap, ROUTED)
    db: asyncpg.Connection = await asyncpg.connect(stack_env["DATABASE_URL"])
    try:
        async with owned(replicas):
            for replica in replicas:
                replica.start()
            await asyncio.gather(*(r.wait_ready(90) for r in replicas))
            survivors = [replicas[1].url, stack_env["ROUTER_URL"]]
            duplicates_before = await duplicates_seen(survivors)

            progress = Progress()
            started = time.monotonic()
            held, (victim_routed, produced_at_kill) = await asyncio.gather(
                produce_stream(bootstrap, messages, progress),
                kill_while_routing(replicas, progress),
            )
            assert not victim.alive()
            assert produced_at_kill < MESSAGES, "the kill came after the whole stream"
            inbound_end = await end_offsets(bootstrap, INBOUND)
            stored_s = await wait_stored(db, ids, timeout=150)
            await wait_committed(bootstrap, inbound_end, timeout=30)
            assert replicas[1].alive(), "the surviving replica died"
            redelivered = await duplicates_seen(survivors) - duplicates_before

        rows = await db.fetch(
            "SELECT m.message_id, m.ticket_id, t.conversation_key FROM messages m"
            " JOIN tickets t USING (ticket_id) WHERE m.message_id = ANY($1::uuid[])",
            ids,
        )
        assert len(rows) == MESSAGES
        assert {r["message_id"] for r in rows} == set(ids)
        assert len({r["ticket_id"] for r in rows}) == MESSAGES  # one ticket per conversation
        tickets = await db.fetchval(
            "SELECT count(*) FROM tickets WHERE conversation_key = ANY($1::text[])",
            [m.conversation_key for m in messages],
        )
        assert tickets == MESSAGES, "a crash left a ticket without its message, or a second one"

        wanted = {m.message_id for m in messages}

        seen: set[str] = set()
        read = 0

        def all_seen(records: Records) -> bool:
            nonlocal read
            seen.update(_routed(r.value).message_id for r in records[read:])
            read = len(records)
            return wanted <= seen

        records = await read_topic(
            bootstrap, ROUTED, start=routed_start, done=all_seen, timeout=60, settle_s=2.0
        )
        ours = [(r, _routed(r.value)) for r in records]
        ours = [(r, e) for r, e in ours if e.message_id in wanted]
        ticket_of = {str(r["message_id"]): str(r["ticket_id"]) for r in rows}
        values: dict[str, set[bytes]] = {}
        for record, event in ours:
            assert event.ticket_id == ticket_of[event.message_id]
            assert event.change == "created"
            values.setdefault(event.message_id, set()).add(record.value)
        copies = Counter(e.message_id for _, e in ours)
        duplicated = {mid: n for mid, n in copies.items() if n > 1}
        # A duplicate is the same outbox row published twice, never a second routing.
        assert all(len(values[mid]) == 1 for mid in duplicated)
        print(
            f"\nrouter replicas: {MESSAGES} messages, victim routed {victim_routed:.0f} before"
            f" SIGKILL at {produced_at_kill} produced, stream held {held:.1f}s for the kill,"
            f" all stored {stored_s:.1f}s after the stream ({time.monotonic() - started:.1f}s in"
            f" all); events on {ROUTED}:"
            f" {len(ours)} for {len(copies)} messages, {len(duplicated)} duplicated"
            f" ({sum(duplicated.values()) - len(duplicated)} extra copies); the survivors skipped"
            f" {redelivered:.0f} redelivered records the victim had stored but not committed"
        )
    finally:
        await db.close()
