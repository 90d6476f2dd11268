"""The consume loop's lookahead: the next batch is shown early, handled only after the current
one is committed, and re-fetched (never skipped) when a rebalance came in between."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from shared.kafka_consumer import BatchConsumer, Record

TP = TopicPartition("t", 0)


def _record(offset: int) -> Record:
    return ConsumerRecord(
        topic=TP.topic,
        partition=TP.partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=b"v",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=1,
        headers=(),
    )


class FakeConsumer:
    """Serves offsets 0..end-1 in batches of ``size`` from its position; records commits."""

    def __init__(self, end: int, size: int) -> None:
        self.position = 0
        self.end = end
        self.size = size
        self.commits: list[int] = []
        self.on_fetch: Any = None

    async def getmany(
        self, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        await asyncio.sleep(0)
        if self.on_fetch is not None:
            await self.on_fetch()
        if self.position >= self.end:
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        stop = min(self.position + self.size, self.end)
        batch = [_record(o) for o in range(self.position, stop)]
        self.position = stop
        return {TP: batch}

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        self.commits.append(offsets[TP].offset)

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.position = offset

    def highwater(self, tp: TopicPartition) -> int:
        return self.end


def _consumer(
    fake: FakeConsumer,
    handled: list[list[int]],
    seen: list[list[int]],
    monkeypatch: pytest.MonkeyPatch,
) -> BatchConsumer:
    monkeypatch.setattr(BatchConsumer, "_new_consumer", lambda self: fake)

    async def handle(records: list[Record]) -> None:
        handled.append([r.offset for r in records])
        # The batch in hand is committed only after this returns.
        assert fake.commits == [] or fake.commits[-1] == records[0].offset
        await asyncio.sleep(0.01)

    consumer = BatchConsumer(
        bootstrap_servers="unused:9092",
        group_id="g",
        topics=["t"],
        handler=handle,
        lookahead=lambda records: seen.append([r.offset for r in records]),
        poll_timeout_ms=10,
    )
    return consumer


async def _run_until(consumer: BatchConsumer, fake: FakeConsumer, last: int) -> None:
    loop = asyncio.create_task(consumer._loop())
    try:
        async with asyncio.timeout(5):
            while not fake.commits or fake.commits[-1] < last:
                await asyncio.sleep(0.005)
    finally:
        await consumer.stop()
        await loop


async def test_the_next_batch_is_shown_before_the_current_one_is_committed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeConsumer(end=30, size=10)
    handled: list[list[int]] = []
    seen: list[list[int]] = []
    consumer = _consumer(fake, handled, seen, monkeypatch)
    await _run_until(consumer, fake, 30)
    assert handled == [list(range(0, 10)), list(range(10, 20)), list(range(20, 30))]
    assert seen == handled[1:]
    assert fake.commits == [10, 20, 30]


async def test_a_batch_fetched_before_a_rebalance_is_fetched_again_not_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeConsumer(end=30, size=10)
    handled: list[list[int]] = []
    seen: list[list[int]] = []
    consumer = _consumer(fake, handled, seen, monkeypatch)
    rebalanced = False

    async def rebalance_once() -> None:
        nonlocal rebalanced
        if fake.position == 10 and not rebalanced:
            rebalanced = True
            consumer.generation += 1  # what the revoke listener does

    fake.on_fetch = rebalance_once
    await _run_until(consumer, fake, 30)
    offsets = [o for batch in handled for o in batch]
    assert sorted(offsets) == list(range(30))
    assert len(offsets) == len(set(offsets))
    assert fake.commits[-1] == 30
