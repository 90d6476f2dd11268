"""Kafka for the bench: consumer-group lag, bench topics, and a watcher that notes when each
expected message id shows up on a topic."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError


class _Ids(msgspec.Struct):
    message_id: str
    routed_at: datetime | None = None


_decode_ids = msgspec.json.Decoder(_Ids).decode


async def ensure_topics(bootstrap: str, names: Sequence[str], partitions: int) -> None:
    """Create the bench's own topics (one hour of retention) when missing."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(n, partitions, 1, topic_configs={"retention.ms": str(3_600_000)})
            for n in names
            if n not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


async def partitions(bootstrap: str, topics: Sequence[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(t["topic"], p["partition"])
        for t in described
        if not t.get("error_code")
        for p in sorted(t["partitions"], key=lambda p: int(p["partition"]))
    ]


async def group_lag(bootstrap: str, groups: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Records each consumer group has not committed yet, over the given topics."""
    all_parts = await partitions(bootstrap, sorted({t for ts in groups.values() for t in ts}))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        lags: dict[str, int] = {}
        for group, topics in groups.items():
            parts = [tp for tp in all_parts if tp.topic in topics]
            ends = await consumer.end_offsets(parts) if parts else {}
            committed = await admin.list_consumer_group_offsets(group, partitions=parts)
            lag = 0
            for tp in parts:
                meta = committed.get(tp)
                position = meta.offset if meta is not None and meta.offset >= 0 else 0
                lag += max(ends.get(tp, 0) - position, 0)
            lags[group] = lag
        return lags
    finally:
        await consumer.stop()
        await admin.close()


async def wait_caught_up(
    bootstrap: str, groups: Mapping[str, Sequence[str]], timeout_s: float, every_s: float = 0.5
) -> tuple[bool, float, dict[str, int]]:
    """Poll until every group's lag is 0: (caught up, seconds waited, last lags)."""
    started = time.monotonic()
    while True:
        lags = await group_lag(bootstrap, groups)
        waited = time.monotonic() - started
        if not any(lags.values()) or waited >= timeout_s:
            return not any(lags.values()), waited, lags
        await asyncio.sleep(every_s)


class ArrivalWatcher:
    """Reads ``topic`` from its end (no consumer group) and notes the wall-clock arrival, and the
    ``routed_at`` stamp when there is one, of each expected ``message_id``."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._consumer: AIOKafkaConsumer | None = None
        self._wanted: set[str] = set()
        self.arrivals: dict[str, tuple[float, float | None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._complete = asyncio.Event()
        self._matched = 0

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
            fetch_max_wait_ms=100,
            max_partition_fetch_bytes=4 << 20,
        )
        parts = await partitions(self._bootstrap, [self._topic])
        if not parts:
            raise RuntimeError(f"topic {self._topic} is missing")
        await consumer.start()
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        for tp in parts:
            await consumer.position(tp)  # resolve the end now, before anything is sent
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(), name=f"watch-{self._topic}")

    def expect(self, ids: Iterable[str]) -> None:
        """Ids to wait for; one may have arrived already (the router can beat the HTTP answer)."""
        for message_id in ids:
            if message_id not in self._wanted:
                self._wanted.add(message_id)
                self._matched += message_id in self.arrivals
        self._check()

    @property
    def matched_count(self) -> int:
        return self._matched

    def _check(self) -> None:
        if self._wanted and self._matched >= len(self._wanted):
            self._complete.set()

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=10_000)
            now = time.time()
            for records in batches.values():
                for record in records:
                    try:
                        ids = _decode_ids(record.value or b"")
                    except (msgspec.DecodeError, msgspec.ValidationError):
                        continue
                    if ids.message_id not in self.arrivals:
                        routed = ids.routed_at.timestamp() if ids.routed_at else None
                        self.arrivals[ids.message_id] = (now, routed)
                        self._matched += ids.message_id in self._wanted
            self._check()

    async def wait_all(self, timeout_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._complete.wait(), timeout_s)
        return self._complete.is_set()

    def matched(self) -> dict[str, tuple[float, float | None]]:
        return {k: v for k, v in self.arrivals.items() if k in self._wanted}

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
