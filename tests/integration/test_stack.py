"""The native stack's Kafka and PostgreSQL behave as the services rely on them to."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.kafka_producer import ResilientProducer
from shared.partitioner import default_partition

pytestmark = pytest.mark.integration

MESSAGES = 10
FIRST_BATCH = 6


@pytest.fixture
async def topic(infra_env: dict[str, str]) -> AsyncIterator[str]:
    """A fresh single-partition topic, deleted afterwards."""
    name = f"test.stack.{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra_env["KAFKA_BOOTSTRAP_SERVERS"])
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=name, num_partitions=1, replication_factor=1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


def new_consumer(bootstrap: str, topic: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )


async def consume(consumer: AIOKafkaConsumer, count: int) -> list[tuple[int, bytes]]:
    """(offset, value) of the next `count` records, reading at most `count`."""
    got: list[tuple[int, bytes]] = []
    async with asyncio.timeout(30):
        while len(got) < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=count - len(got))
            for records in batches.values():
                got.extend((r.offset, r.value) for r in records)
    return got


async def test_idempotent_produce_then_group_commit_survives_consumer_restart(
    infra_env: dict[str, str], topic: str
) -> None:
    bootstrap = infra_env["KAFKA_BOOTSTRAP_SERVERS"]
    group = f"test-stack-{uuid.uuid4().hex[:12]}"
    tp = TopicPartition(topic, 0)

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, key=b"conversation-1", value=f"m{i}".encode())
            for i in range(MESSAGES)
        ]
        sent = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    assert [m.offset for m in sent] == list(range(MESSAGES))

    # First member of the group processes part of the log and commits offset + 1 of the last
    # record it processed, then leaves.
    first = new_consumer(bootstrap, topic, group)
    await first.start()
    try:
        assert await first.committed(tp) is None
        records = await consume(first, FIRST_BATCH)
        assert [v for _, v in records] == [f"m{i}".encode() for i in range(FIRST_BATCH)]
        await first.commit({tp: records[-1][0] + 1})
    finally:
        await first.stop()

    # A restarted member of the same group sees the commit and resumes right after it.
    second = new_consumer(bootstrap, topic, group)
    await second.start()
    try:
        assert await second.committed(tp) == FIRST_BATCH
        records = await consume(second, MESSAGES - FIRST_BATCH)
        assert [o for o, _ in records] == list(range(FIRST_BATCH, MESSAGES))
        await second.commit()
        assert await second.committed(tp) == MESSAGES
    finally:
        await second.stop()

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    assert offsets[tp].offset == MESSAGES


async def test_postgres_accepts_connections_and_is_migrated(infra_env: dict[str, str]) -> None:
    conn = await asyncpg.connect(infra_env["DATABASE_URL"])
    try:
        assert int(await conn.fetchval("SHOW server_version_num")) >= 150000
        assert await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        await conn.execute("CREATE TEMP TABLE stack_probe (id int PRIMARY KEY, body text)")
        await conn.executemany(
            "INSERT INTO stack_probe VALUES ($1, $2)", [(1, "钱包被偷了"), (2, "wallet stolen")]
        )
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("INSERT INTO stack_probe VALUES (1, 'again')")
        rows = await conn.fetch("SELECT id, body FROM stack_probe ORDER BY id")
        assert [tuple(r) for r in rows] == [(1, "钱包被偷了"), (2, "wallet stolen")]
    finally:
        await conn.close()


async def test_batched_single_record_sends_reach_the_topic_once_and_in_order(
    infra_env: dict[str, str],
) -> None:
    """The intake's path (records of concurrent callers sharing one batch per partition,
    mixed with the general path) against the real idempotent producer: every record once,
    each key's records in the order they were sent, none refused as out of sequence."""
    bootstrap = infra_env["KAFKA_BOOTSTRAP_SERVERS"]
    name = f"test.batched.{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(name=name, num_partitions=3, replication_factor=1)])
    producer = ResilientProducer(bootstrap, linger_ms=0, partitioner=default_partition)
    await producer.start()
    keys = [f"conversation-{k}".encode() for k in range(12)]
    try:
        await producer.send_many([(name, keys[0], b"warm-0")])  # loads the topic's metadata

        async def caller(key: bytes) -> None:
            for i in range(150):
                await producer.send(name, key, key + b"-%d" % i + b"x" * (i % 7) * 300)
                if i % 50 == 0:
                    await producer.send_many([(name, key, key + b"-many-%d" % i)])
                # Timers fire between the client taking a batch and serializing it, too.
                await asyncio.sleep(random.random() / 1000)

        await asyncio.gather(*(caller(k) for k in keys))
        expected = 1 + len(keys) * (150 + 3)
        consumer = AIOKafkaConsumer(
            name,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        await consumer.start()
        try:
            got: list[tuple[bytes, bytes]] = []
            async with asyncio.timeout(30):
                while len(got) < expected:
                    batches = await consumer.getmany(timeout_ms=500)
                    for records in batches.values():
                        got.extend((bytes(r.key), bytes(r.value)) for r in records)
            await asyncio.sleep(0.5)
            extra = await consumer.getmany(timeout_ms=500)
        finally:
            await consumer.stop()
    finally:
        await producer.stop()
        await admin.delete_topics([name])
        await admin.close()
    assert len(got) == expected and not any(extra.values())
    assert len({v for _, v in got}) == expected
    for key in keys:
        sent_order = [v for k, v in got if k == key and b"-many-" not in v and v != b"warm-0"]
        numbers = [int(v.split(b"-")[2].rstrip(b"x")) for v in sent_order]
        assert numbers == list(range(150)), key
