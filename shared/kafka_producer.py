"""An idempotent producer that answers within a bounded time and heals itself after an outage.

Delivery rule: a caller learns "acknowledged" only once the broker acknowledged with acks=all.
On a timeout we never resend from our own code (the client may still deliver the record; the
consumers are idempotent per message id). An idempotent aiokafka producer can wedge after the
broker was away (aiokafka issue 1017), so after repeated failures the producer is rebuilt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from shared.kafka_batching import BrokerUnavailable, PartitionBatches
from shared.partitioner import Partitioner, default_partition

__all__ = ["BrokerUnavailable", "ResilientProducer"]

log = logging.getLogger(__name__)


class ResilientProducer:
    def __init__(
        self,
        bootstrap_servers: str,
        *,
        send_timeout_s: float = 5.0,
        linger_ms: int = 2,
        rebuild_after_failures: int = 3,
        client_id: str = "switchboard",
        partitioner: Partitioner | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._timeout = send_timeout_s
        self._linger_ms = linger_ms
        self._rebuild_after = rebuild_after_failures
        self._client_id = client_id
        self._partitioner = partitioner
        self._producer: AIOKafkaProducer | None = None
        self._failures = 0
        self._rebuild_lock = asyncio.Lock()
        self._batches = PartitionBatches(
            send_timeout_s, partitioner or default_partition, on_settled=self._batch_settled
        )
        self._stopping: set[asyncio.Task[None]] = set()
        self._sending = 0  # records of send_many in flight
        self.last_ack = 0.0

    @property
    def in_flight(self) -> int:
        """Records handed over and not yet acknowledged or failed."""
        return self._sending + self._batches.in_flight

    def _new(self) -> AIOKafkaProducer:
        extra: dict[str, Any] = {}
        if self._partitioner is not None:
            extra["partitioner"] = self._partitioner
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            enable_idempotence=True,  # implies acks=all
            acks="all",
            linger_ms=self._linger_ms,
            request_timeout_ms=max(int(self._timeout * 1000), 1000),
            retry_backoff_ms=100,
            **extra,
        )

    async def start(self) -> None:
        """Start, tolerating a broker that is not there yet: readiness reports it, sends 503."""
        self._producer = self._new()
        try:
            await asyncio.wait_for(self._producer.start(), self._timeout * 2)
        except (TimeoutError, KafkaError, OSError):
            log.warning("kafka not reachable at start; will retry on first send")
            await self._discard()

    async def stop(self) -> None:
        if self._stopping:  # clients dropped after failures, still closing
            await asyncio.gather(*self._stopping)
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._producer.stop(), self._timeout * 2)
            self._producer = None

    async def _discard(self) -> None:
        old, self._producer = self._producer, None
        if old is not None:
            await self._stop_quietly(old)

    async def _ensure(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._rebuild_lock:
            if self._stopping:
                # A client dropped after failures may still hold records: a new one starts
                # once it has flushed or given up, so that a partition's records stay in order.
                await asyncio.gather(*self._stopping)
            if self._producer is None:
                producer = self._new()
                try:
                    await asyncio.wait_for(producer.start(), self._timeout)
                except BaseException:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(producer.stop(), 1.0)
                    raise
                self._producer = producer
            return self._producer

    async def send_many(self, records: list[tuple[str, bytes, bytes]]) -> None:
        """Send (topic, key, value) records and wait until every one is acknowledged."""
        self._sending += len(records)
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._timeout):
                producer = await self._ensure()
                futures = [
                    await producer.send(topic, value=value, key=key)
                    for topic, key, value in records
                ]
                await asyncio.gather(*futures)
        except (TimeoutError, KafkaError, OSError) as exc:
            self._failed()
            raise BrokerUnavailable(type(exc).__name__) from exc
        finally:
            self._sending -= len(records)
        self._failures = 0
        self.last_ack = time.monotonic()
        log.debug("acked", extra={"records": len(records), "ms": (self.last_ack - started) * 1e3})

    def enqueue(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[None]:
        """Hand one keyed record over; the future is done once it is acknowledged, or fails
        with ``BrokerUnavailable`` by the send timeout. The intake's per-request path: no
        coroutine of its own, the caller awaits the future itself.

        Records of concurrent callers join one open batch per partition
        (``shared.kafka_batching``) and each caller awaits that batch's acknowledgement, until
        one deadline per batch (the send timeout from the batch's first record).
        """
        producer = self._producer
        acked = None if producer is None else self._batches.append(producer, topic, key, value)
        if acked is None:
            # After a failed start or a rebuild, or before the topic's metadata is known: the
            # bounded general path starts the client and waits for the metadata.
            return asyncio.ensure_future(self.send_many([(topic, key, value)]))
        return acked

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        """One keyed record, acknowledged or ``BrokerUnavailable``."""
        await self.enqueue(topic, key, value)

    def _batch_settled(self, exc: BaseException | None, _: int) -> None:
        if exc is None:
            self._failures = 0
            self.last_ack = time.monotonic()
        elif not isinstance(exc, MessageSizeTooLargeError):  # the record's fault, not Kafka's
            self._failed()

    def _failed(self) -> None:
        """After repeated failures the client is dropped at once (the next send builds a new
        one) and stopped in the background."""
        self._failures += 1
        if self._failures >= self._rebuild_after and self._producer is not None:
            log.warning("rebuilding kafka producer after repeated failures")
            self._failures = 0
            old, self._producer = self._producer, None
            task = asyncio.ensure_future(self._stop_quietly(old))
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    @staticmethod
    async def _stop_quietly(producer: AIOKafkaProducer) -> None:
        """Stop a dropped client; when the broker is gone, stop() waits for records that will
        not flush, and cancelled there it leaves the sender task and the connections running
        (a zombie that may deliver, or log "Task was destroyed but it is pending" when
        collected): then close those two as stop() would have."""
        try:
            await asyncio.wait_for(producer.stop(), 1.0)
        except Exception:  # noqa: BLE001 - the client is being thrown away
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer._sender.close(), 1.0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.client.close(), 1.0)

    async def ready(self) -> bool:
        """Whether the broker answers a metadata request now."""
        try:
            async with asyncio.timeout(min(self._timeout, 2.0)):
                producer = await self._ensure()
                await producer.client.fetch_all_metadata()
                return bool(producer.client.cluster.brokers())
        except (TimeoutError, KafkaError, OSError):
            return False
