"""Records of concurrent requests appended to one open record batch per partition.

aiokafka's ``send`` costs tens of microseconds of pure Python per record (a metadata wait, the
partitioner's lists, a coroutine and a future per record, the accumulator's bookkeeping): on
the intake, one record per request, that is a third of a request. Appending to an open
``BatchBuilder`` (C) and resolving every waiter of a batch when its one future settles costs a
few. The delivery rule is the client's own: a batch is acknowledged with acks=all by the
idempotent producer, or fails; nothing is resent from here.

Order within a partition is kept: the batches of a partition are handed to the client one at a
time, in the order they were opened, and the client sends them in that order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.structs import TopicPartition as KafkaTopicPartition

from shared.partitioner import Partitioner

TopicPartition = tuple[str, int]
# Called once per batch as it settles: the error (None when acknowledged), and how many
# callers were waiting for it.
OnSettled = Callable[[BaseException | None, int], None]


_Partitions = tuple[tuple[TopicPartition, ...], range]


class BrokerUnavailable(Exception):
    """Kafka did not acknowledge in time; the caller should answer 503 with Retry-After."""


class _CountedBuilder(BatchBuilder):  # type: ignore[misc]  # aiokafka is untyped
    """Closed the moment the client counts its records for the idempotent sequence numbers.

    The client takes a batch, gives it the partition's next sequence number, advances that
    by the batch's record count, and serializes it a little later. A record appended in
    between would be sent under a sequence number already given to the next batch, which the
    broker refuses (``OutOfOrderSequenceNumber``). Without idempotence nothing is counted and
    serializing closes the builder.
    """

    def _set_producer_state(
        self, producer_id: int, producer_epoch: int, base_sequence: int
    ) -> None:
        self.close()
        super()._set_producer_state(producer_id, producer_epoch, base_sequence)


def _builder(client: AIOKafkaProducer) -> BatchBuilder:
    builder = client.create_batch()  # the client's batch size, compression and flags
    builder.__class__ = _CountedBuilder
    return builder


class _Batch:
    """One open builder and the requests waiting for its acknowledgement."""

    __slots__ = ("builder", "error", "on_settled", "settled", "timer", "waiters")

    def __init__(
        self,
        builder: BatchBuilder,
        loop: asyncio.AbstractEventLoop,
        timeout_s: float,
        on_settled: OnSettled,
    ):
        self.builder = builder
        self.waiters: list[asyncio.Future[None]] = []
        self.settled = False
        self.error: BrokerUnavailable | None = None
        self.on_settled = on_settled
        self.timer = loop.call_later(timeout_s, self.fail, TimeoutError())

    def wait(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        waiter: asyncio.Future[None] = loop.create_future()
        if not self.settled:
            self.waiters.append(waiter)
        elif self.error is not None:  # refused as it was opened (a record it cannot hold)
            waiter.set_exception(self.error)
        else:
            waiter.set_result(None)
        return waiter

    def fail(self, exc: BaseException) -> None:
        """At the deadline, or when the client refused or lost the batch: every waiter fails.

        The client may still deliver a batch that timed out here: consumers are idempotent per
        message id, and the caller's retry gets the same id.
        """
        self._settle(exc)

    def acked(self, future: asyncio.Future[object]) -> None:
        if future.cancelled():
            self._settle(KafkaError("batch cancelled"))
        else:
            self._settle(future.exception())

    def _settle(self, exc: BaseException | None) -> None:
        if self.settled:
            return
        self.settled = True
        self.timer.cancel()
        if exc is not None:
            self.error = BrokerUnavailable(type(exc).__name__)
            self.error.__cause__ = exc
        error = self.error
        for waiter in self.waiters:
            if waiter.done():  # its caller was cancelled
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)
        waiting = len(self.waiters)
        self.waiters.clear()
        self.on_settled(exc, waiting)


class _ClientBatches:
    """The open and queued batches of one aiokafka client (a rebuilt client starts afresh)."""

    def __init__(self, client: AIOKafkaProducer, timeout_s: float, on_settled: OnSettled) -> None:
        self.client = client
        self._timeout_s = timeout_s
        self._on_settled = on_settled
        self._open: dict[TopicPartition, _Batch] = {}
        self._queued: dict[TopicPartition, deque[_Batch]] = {}
        self._hand_overs: set[asyncio.Task[None]] = set()

    def append(
        self, loop: asyncio.AbstractEventLoop, tp: TopicPartition, key: bytes, value: bytes
    ) -> asyncio.Future[None]:
        batch = self._open.get(tp)
        if (
            batch is None
            or batch.settled
            or batch.builder.append(timestamp=None, key=key, value=value) is None
        ):
            batch = self._new_batch(loop, tp, key, value)
        return batch.wait(loop)

    def _new_batch(
        self, loop: asyncio.AbstractEventLoop, tp: TopicPartition, key: bytes, value: bytes
    ) -> _Batch:
        batch = _Batch(_builder(self.client), loop, self._timeout_s, self._on_settled)
        if batch.builder.append(timestamp=None, key=key, value=value) is None:
            batch.fail(MessageSizeTooLargeError())
            return batch
        self._open[tp] = batch
        queue = self._queued.get(tp)
        if queue is None and (delivery := _append_now(self.client, tp, batch.builder)):
            delivery.add_done_callback(batch.acked)
            return batch
        if queue is None:
            queue = self._queued[tp] = deque()
            task = loop.create_task(self._hand_over(tp, queue))
            self._hand_overs.add(task)
            task.add_done_callback(self._hand_overs.discard)
        queue.append(batch)
        return batch

    async def _hand_over(self, tp: TopicPartition, queue: deque[_Batch]) -> None:
        """Give the partition's batches to the client in order: it queues one only while none
        of that partition waits to be sent. Records keep joining a handed-over batch until the
        client takes it (``_CountedBuilder``)."""
        topic, partition = tp
        try:
            while queue:
                batch = queue[0]
                if not batch.settled:
                    try:
                        acked = await self.client.send_batch(
                            batch.builder, topic, partition=partition
                        )
                    except (KafkaError, OSError, TimeoutError) as exc:
                        batch.fail(exc)
                    else:
                        _delivery(self.client, tp, batch.builder, acked).add_done_callback(
                            batch.acked
                        )
                queue.popleft()
        finally:
            del self._queued[tp]
            for batch in queue:  # cancelled at shutdown
                batch.fail(KafkaError("producer stopped"))


_KAFKA_TP: dict[TopicPartition, KafkaTopicPartition] = {}


def _kafka_tp(tp: TopicPartition) -> KafkaTopicPartition:
    known = _KAFKA_TP.get(tp)
    if known is None:
        known = _KAFKA_TP[tp] = KafkaTopicPartition(*tp)
    return known


def _append_now(
    client: AIOKafkaProducer, tp: TopicPartition, builder: BatchBuilder
) -> asyncio.Future[object] | None:
    """Queue the batch in the client's accumulator at once when nothing of its partition waits
    there, which is what ``send_batch`` does after its awaits; None: take the general path.

    ``send_batch`` costs a task, three coroutines and a shield per batch, and at the intake's
    concurrency a batch is often one record. This is the client's internal API (aiokafka is
    pinned); any other shape than the one checked here falls back to ``send_batch``.
    """
    accumulator = getattr(client, "_message_accumulator", None)
    queued = getattr(accumulator, "_batches", None)
    append = getattr(accumulator, "_append_batch", None)
    if (
        not isinstance(queued, dict)
        or not callable(append)
        or getattr(accumulator, "_closed", True) is not False
        or getattr(accumulator, "_exception", True) is not None
        or queued.get(_kafka_tp(tp))
    ):
        return None
    future: asyncio.Future[object] = append(builder, _kafka_tp(tp)).future
    return future


def _delivery(
    client: AIOKafkaProducer,
    tp: TopicPartition,
    builder: BatchBuilder,
    shielded: asyncio.Future[object],
) -> asyncio.Future[object]:
    """The client's own future of the batch just queued, else the shield ``send_batch`` gave.

    The shield resolves one event-loop pass after the batch, which on a busy loop adds
    milliseconds to every request of the batch. The accumulator's queue is looked up with
    ``get`` (it is a defaultdict: indexing would leave an empty queue its sender trips on)
    and the batch is recognised by its builder; any other shape falls back to the shield.
    """
    queued = getattr(getattr(client, "_message_accumulator", None), "_batches", None)
    if isinstance(queued, dict):
        batches = queued.get(_kafka_tp(tp))
        if batches and getattr(batches[-1], "_builder", None) is builder:
            future = getattr(batches[-1], "future", None)
            if isinstance(future, asyncio.Future):
                return future
    return shielded


class PartitionBatches:
    """``append`` one keyed record; await the returned future for its acknowledgement.

    The future fails with ``BrokerUnavailable`` (its cause the client's error, or the
    deadline's ``TimeoutError``). ``in_flight`` counts the records waiting for an
    acknowledgement, a cancelled caller's too: its record is in the batch all the same.
    """

    def __init__(
        self,
        timeout_s: float,
        partitioner: Partitioner,
        on_settled: OnSettled | None = None,
    ) -> None:
        self._timeout_s = timeout_s
        self._partition = partitioner  # the one the client uses too, so both paths agree
        self._on_settled = on_settled
        self._current: _ClientBatches | None = None
        # topic -> one (topic, partition) per partition as the client's metadata knows them,
        # and their numbers for the partitioner; emptied on every metadata update of the
        # client (partitions may have been added).
        self._topics: dict[str, _Partitions] = {}
        self.in_flight = 0

    def append(
        self, client: AIOKafkaProducer, topic: str, key: bytes, value: bytes
    ) -> asyncio.Future[None] | None:
        """The record goes to the partition the client's own partitioner would choose; None
        (nothing appended) while the client's metadata does not know the topic yet."""
        current = self._current
        if current is None or current.client is not client:
            current = self._batches_of(client)
        known = self._topics.get(topic) or self._partitions_of(current, topic)
        if known is None:
            return None
        tps, every = known
        acked = current.append(
            asyncio.get_running_loop(), tps[self._partition(key, every, every)], key, value
        )
        if not acked.done():  # else refused at once: never in flight
            self.in_flight += 1
        return acked

    def _batches_of(self, client: AIOKafkaProducer) -> _ClientBatches:
        current = self._current = _ClientBatches(client, self._timeout_s, self._settled)
        self._topics.clear()
        client.client.cluster.add_listener(lambda _: self._topics.clear())
        return current

    def _partitions_of(self, current: _ClientBatches, topic: str) -> _Partitions | None:
        known = current.client.client.cluster.partitions_for_topic(topic)
        if not known:
            return None
        every = range(len(known))
        self._topics[topic] = partitions = (tuple((topic, p) for p in every), every)
        return partitions

    def _settled(self, exc: BaseException | None, waiting: int) -> None:
        self.in_flight -= waiting
        if self._on_settled is not None:
            self._on_settled(exc, waiting)
