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
from hypothesis import given
from hypothesis import strategies as st

from shared.kafka_producer import BrokerUnavailable, ResilientProducer
from shared.models import message_id_for
from shared.partitioner import default_partition


class _Client:
    """Stands in for AIOKafkaProducer: ``send`` appends and returns the record's future."""

    def __init__(self, outcome: str) -> None:
        self.outcome = outcome
        self.futures: list[asyncio.Future[object]] = []

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[object]:
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if self.outcome == "ack":
            asyncio.get_running_loop().call_later(0.01, future.set_result, "metadata")
        elif self.outcome == "error":
            future.set_exception(KafkaConnectionError())
        self.futures.append(future)  # "silent": never answered, like a broker that went away
        return future

    async def stop(self) -> None: ...


def _producer(outcome: str, timeout_s: float = 0.2) -> tuple[ResilientProducer, _Client]:
    producer = ResilientProducer("unused:9092", send_timeout_s=timeout_s)
    client = _Client(outcome)
    producer._producer = client  # type: ignore[assignment]
    return producer, client


async def test_send_returns_once_acknowledged() -> None:
    producer, client = _producer("ack")
    await producer.send("t", b"k", b"v")
    assert client.futures[0].done() and producer.in_flight == 0 and producer.last_ack > 0


async def test_send_without_an_ack_fails_at_the_deadline() -> None:
    producer, client = _producer("silent", timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable):
        await producer.send("t", b"k", b"v")
    assert 0.15 < time.monotonic() - started < 1.0
    assert producer.in_flight == 0
    # The client may still deliver later: its future is done, so it is skipped, not re-set.
    assert client.futures[0].done()


async def test_send_error_is_broker_unavailable_and_counts_towards_a_rebuild() -> None:
    producer, _ = _producer("error")
    for _ in range(3):
        with pytest.raises(BrokerUnavailable):
            await producer.send("t", b"k", b"v")
    assert producer._producer is None  # rebuilt on the next send


async def test_cancelled_caller_leaves_nothing_in_flight() -> None:
    producer, _ = _producer("silent", timeout_s=5)
    task = asyncio.create_task(producer.send("t", b"k", b"v"))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert producer.in_flight == 0


@given(st.binary(max_size=300), st.integers(min_value=1, max_value=64))
def test_partition_is_aiokafkas(key: bytes, partitions: int) -> None:
    every = list(range(partitions))
    assert default_partition(key, every, every) == DefaultPartitioner()(key, every, every)


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
