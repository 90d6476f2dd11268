"""The single-record producer path: one deadline, acks only, and the same partition as aiokafka."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from hypothesis import given
from hypothesis import strategies as st

from shared.kafka_producer import BrokerUnavailable, ResilientProducer
from shared.models import message_id_for
from shared.partitioner import default_partition


class _Cluster:
    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.listeners: list[Any] = []

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self.partitions))

    def add_listener(self, listener: Any) -> None:
        self.listeners.append(listener)


class _Kafka:
    def __init__(self, partitions: int) -> None:
        self.cluster = _Cluster(partitions)


class _Client:
    """Stands in for AIOKafkaProducer: real batch builders, ``send_batch`` queues them and
    returns the batch's future, acknowledged (``ack``), failed (``error``) or never answered
    (``silent``, like a broker that went away)."""

    def __init__(self, outcome: str, partitions: int = 1) -> None:
        self.outcome = outcome
        self.client = _Kafka(partitions)
        self.sent: list[tuple[int, BatchBuilder]] = []
        self.futures: list[asyncio.Future[object]] = []

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(16384, 0)  # no compression

    async def send_batch(
        self, batch: BatchBuilder, topic: str, *, partition: int
    ) -> asyncio.Future[object]:
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if self.outcome == "ack":
            asyncio.get_running_loop().call_later(0.01, future.set_result, "metadata")
        elif self.outcome == "error":
            future.set_exception(KafkaConnectionError())
        self.sent.append((partition, batch))
        self.futures.append(future)
        return future

    async def stop(self) -> None: ...


def _producer(
    outcome: str, timeout_s: float = 0.2, partitions: int = 1
) -> tuple[ResilientProducer, _Client]:
    producer = ResilientProducer("unused:9092", send_timeout_s=timeout_s)
    client = _Client(outcome, partitions)
    producer._producer = client  # type: ignore[assignment]
    return producer, client


async def test_send_returns_once_acknowledged() -> None:
    producer, client = _producer("ack")
    await producer.send("t", b"k", b"v")
    assert client.futures[0].done() and producer.in_flight == 0 and producer.last_ack > 0


async def test_concurrent_records_of_a_partition_share_one_batch() -> None:
    producer, client = _producer("ack")
    await asyncio.gather(*(producer.send("t", b"k", f"v{i}".encode()) for i in range(20)))
    assert len(client.sent) == 1 and client.sent[0][1].record_count() == 20


async def test_records_go_to_the_partition_of_their_key() -> None:
    producer, client = _producer("ack", partitions=6)
    keys = [f"chat:s-{i}".encode() for i in range(30)]
    await asyncio.gather(*(producer.send("t", k, b"v") for k in keys))
    expected: dict[int, int] = {}
    for key in keys:
        p = default_partition(key, list(range(6)), list(range(6)))
        expected[p] = expected.get(p, 0) + 1
    assert {p: b.record_count() for p, b in client.sent} == expected


async def test_a_record_after_the_client_counted_the_batch_opens_the_next_one() -> None:
    """The client numbers a batch's records when it takes it; a later record must not join."""
    producer, client = _producer("silent", timeout_s=5)
    first = asyncio.create_task(producer.send("t", b"k", b"v1"))
    await asyncio.sleep(0.01)
    client.sent[0][1]._set_producer_state(1, 0, 0)  # what the client does when it takes it
    second = asyncio.create_task(producer.send("t", b"k", b"v2"))
    await asyncio.sleep(0.01)
    assert [b.record_count() for _, b in client.sent] == [1, 1]
    for future in client.futures:
        future.set_result("metadata")
    await asyncio.gather(first, second)


async def test_batches_of_a_partition_are_handed_over_in_order() -> None:
    producer, client = _producer("ack", timeout_s=5)
    tasks = []
    for i in range(3):
        value = b"x" * (9000 + 100 * i)  # each too big to share a 16 KiB batch, sizes in order
        tasks.append(asyncio.create_task(producer.send("t", b"k", value)))
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert [b.record_count() for _, b in client.sent] == [1, 1, 1]
    sizes = [b.size() for _, b in client.sent]
    assert sizes == sorted(sizes) and sizes[0] < sizes[1] < sizes[2]


async def test_send_without_an_ack_fails_at_the_deadline() -> None:
    producer, client = _producer("silent", timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable):
        await producer.send("t", b"k", b"v")
    assert 0.15 < time.monotonic() - started < 1.0
    assert producer.in_flight == 0
    # A record after the deadline does not join the failed batch: it gets one of its own.
    with pytest.raises(BrokerUnavailable):
        await producer.send("t", b"k", b"v")
    assert len(client.sent) == 2


async def test_send_error_is_broker_unavailable_and_counts_towards_a_rebuild() -> None:
    producer, _ = _producer("error")
    for _ in range(3):
        with pytest.raises(BrokerUnavailable):
            await producer.send("t", b"k", b"v")
    assert producer._producer is None  # rebuilt on the next send


async def test_cancelled_caller_leaves_nothing_in_flight_and_its_batch_mates_acked() -> None:
    producer, client = _producer("silent", timeout_s=5)
    task = asyncio.create_task(producer.send("t", b"k", b"v"))
    mate = asyncio.create_task(producer.send("t", b"k", b"w"))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert producer.in_flight == 2  # the cancelled caller's record is in the batch all the same
    client.futures[0].set_result("metadata")
    await mate
    assert producer.in_flight == 0


@given(st.binary(max_size=300), st.integers(min_value=1, max_value=64))
def test_partition_is_aiokafkas(key: bytes, partitions: int) -> None:
    every = list(range(partitions))
    assert default_partition(key, every, every) == DefaultPartitioner()(key, every, every)


async def test_new_partitions_are_seen_after_a_metadata_update() -> None:
    producer, client = _producer("ack", partitions=1)
    keys = [f"chat:s-{i}".encode() for i in range(30)]
    await asyncio.gather(*(producer.send("t", k, b"v") for k in keys))
    assert {p for p, _ in client.sent} == {0}
    client.client.cluster.partitions = 6
    for listener in client.client.cluster.listeners:
        listener(client.client.cluster)
    await asyncio.gather(*(producer.send("t", k, b"v") for k in keys))
    assert {p for p, _ in client.sent[1:]} == {
        default_partition(k, list(range(6)), list(range(6))) for k in keys
    }


async def test_the_error_is_broker_unavailable_caused_by_the_clients() -> None:
    producer, _ = _producer("error")
    with pytest.raises(BrokerUnavailable) as raised:
        await producer.enqueue("t", b"k", b"v")
    assert isinstance(raised.value.__cause__, KafkaConnectionError)


def test_partition_without_key_is_an_available_one() -> None:
    random.seed(7)
    assert {default_partition(None, [0, 1, 2], [2]) for _ in range(20)} == {2}


_NAMESPACE = uuid.UUID("5f0c6a36-1d8e-4b7e-9a51-2d3c8f0b7a10")


@given(st.sampled_from(["phone", "email", "chat", "social"]), st.text(max_size=300))
def test_message_id_is_uuid5(channel: str, external_id: Any) -> None:
    try:
        expected = str(uuid.uuid5(_NAMESPACE, f"{channel}\x1f{external_id}"))
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            message_id_for(channel, external_id)
        return
    assert message_id_for(channel, external_id) == expected


async def test_a_record_no_batch_can_hold_fails_at_once() -> None:
    producer, client = _producer("ack", timeout_s=5)
    refusing = BatchBuilder(16384, 0)
    refusing.close()  # appends return None, as for a record over the batch's limits
    client.create_batch = lambda: refusing  # type: ignore[method-assign]
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable):
        await producer.send("t", b"k", b"v")
    assert time.monotonic() - started < 1.0 and client.sent == []


class _Closable:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class _Stuck:
    """An aiokafka client whose stop() waits for records the gone broker never takes."""

    def __init__(self) -> None:
        self._sender = _Closable()
        self.client = _Closable()

    async def stop(self) -> None:
        await asyncio.sleep(3600)


async def test_a_dropped_client_whose_stop_hangs_has_its_sender_and_connections_closed() -> None:
    stuck = _Stuck()
    await ResilientProducer._stop_quietly(stuck)  # type: ignore[arg-type]
    assert stuck._sender.closed and stuck.client.closed


async def test_a_dropped_client_that_stops_is_left_to_its_stop() -> None:
    stuck = _Stuck()

    async def stops() -> None: ...

    stuck.stop = stops  # type: ignore[method-assign]
    await ResilientProducer._stop_quietly(stuck)  # type: ignore[arg-type]
    assert not stuck._sender.closed and not stuck.client.closed
