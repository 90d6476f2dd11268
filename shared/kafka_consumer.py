"""The one consume loop every service uses, with its delivery rule stated in one place.

Delivery rule: fetch a batch, let the handler process it (PostgreSQL commit, then publish), and
only then commit offset+1 per partition. A crash anywhere before the offset commit means the
batch is delivered again, so handlers are idempotent per message. Revoked partitions wait for
the batch in hand to finish and commit, so a rebalance never hands half a batch to a peer.

With a ``lookahead``, the next batch is fetched while the handler works on the current one and
shown to ``lookahead`` at once (the router starts its triage then); it is handled only after the
current batch is committed, and dropped unhandled if a rebalance came in between (a partition
assigned again restarts from its committed offset, so nothing is skipped).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from prometheus_client import Gauge

log = logging.getLogger(__name__)

Record: TypeAlias = ConsumerRecord  # ConsumerRecord[bytes, bytes]
BatchHandler = Callable[[list[Record]], Awaitable[None]]
Lookahead = Callable[[list[Record]], None]
Batches = dict[TopicPartition, list[Record]]

CONSUMER_LAG = Gauge(
    "switchboard_consumer_lag_messages",
    "Records not yet consumed by the group, per topic (summed over partitions).",
    ["group", "topic"],
)


# Bounds on client start/stop: a broker that accepts connections but never answers must not
# hang the service; the loop retries instead.
_CLIENT_CALL_S = 30.0
_RETRY_PAUSE_S = 1.0


def _cancelled_from_outside() -> bool:
    """True when someone cancelled the task we run in (shutdown), not a library internal."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: BatchConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        # Taking the lock waits for the batch in hand to be processed and committed.
        async with self._owner.lock:
            self._owner.generation += 1  # a batch fetched before this is not ours to handle
            log.info("partitions revoked", extra={"partitions": len(revoked)})

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        log.info("partitions assigned", extra={"partitions": len(assigned)})


class BatchConsumer:
    def __init__(
        self,
        *,
        bootstrap_servers: str,
        group_id: str,
        topics: Sequence[str],
        handler: BatchHandler,
        max_records: int = 500,
        poll_timeout_ms: int = 200,
        lookahead: Lookahead | None = None,
    ) -> None:
        self.group_id = group_id
        self.topics = tuple(topics)
        self._handler = handler
        self._lookahead = lookahead
        self._max_records = max_records
        self._poll_timeout_ms = poll_timeout_ms
        self.lock = asyncio.Lock()
        self.generation = 0
        self._stopping = asyncio.Event()
        self._bootstrap = bootstrap_servers
        self._positions: dict[TopicPartition, int] = {}
        self.consumer = self._new_consumer()
        self.running = False

    async def run(self) -> None:
        """Consume until ``stop()``; survives broker outages by retrying with a pause."""
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self.consumer.start(), _CLIENT_CALL_S)
                self.consumer.subscribe(self.topics, listener=_CommitOnRevoke(self))
                self.running = True
                await self._loop()
            except asyncio.CancelledError:
                if _cancelled_from_outside():
                    raise
                # aiokafka lets its own internal cancellations escape after a broker outage;
                # they are not a request to stop, so treat them as any other failure.
                log.warning("consume loop interrupted; restarting", extra={"group": self.group_id})
                await asyncio.sleep(_RETRY_PAUSE_S)
            except Exception:
                log.exception("consume loop failed; restarting", extra={"group": self.group_id})
                await asyncio.sleep(_RETRY_PAUSE_S)
            finally:
                self.running = False
                await self._close_consumer()
                if not self._stopping.is_set():
                    self.consumer = self._new_consumer()

    async def _close_consumer(self) -> None:
        """Close the client, bounded in time; a failed close must not end the consume task."""
        try:
            await asyncio.wait_for(self.consumer.stop(), _CLIENT_CALL_S)
        except asyncio.CancelledError:
            if _cancelled_from_outside():
                raise
            log.warning("consumer close interrupted", extra={"group": self.group_id})
        except Exception:
            log.warning("consumer close failed", extra={"group": self.group_id}, exc_info=True)

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self.group_id,
            client_id=f"switchboard-{self.group_id}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_interval_ms=300_000,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
        )

    async def _fetch(self, *, ahead: bool = False) -> tuple[int, Batches, list[Record]]:
        generation = self.generation
        batches = await self.consumer.getmany(
            timeout_ms=self._poll_timeout_ms, max_records=self._max_records
        )
        records = [r for part in batches.values() for r in part]
        if ahead and records and self._lookahead is not None:
            self._lookahead(records)
        return generation, batches, records

    async def _loop(self) -> None:
        ahead: tuple[int, Batches, list[Record]] | None = None
        while not self._stopping.is_set():
            if ahead is None:
                generation, batches, records = await self._fetch()
            else:
                (generation, batches, records), ahead = ahead, None
            if not batches:
                self._update_lag()
                continue
            fetching: asyncio.Task[tuple[int, Batches, list[Record]]] | None = None
            try:
                async with self.lock:
                    if generation != self.generation:
                        self._rewind(batches)
                        continue
                    if self._lookahead is not None:
                        fetching = asyncio.create_task(self._fetch(ahead=True))
                    await self._handle(batches, records)
                self._update_lag()
                if fetching is not None:
                    ahead = await fetching
            except BaseException:
                if fetching is not None and not fetching.done():
                    fetching.cancel()
                    await asyncio.gather(fetching, return_exceptions=True)
                raise

    async def _handle(self, batches: Batches, records: list[Record]) -> None:
        await self._handler(records)
        offsets = {tp: OffsetAndMetadata(part[-1].offset + 1, "") for tp, part in batches.items()}
        self._positions.update({tp: meta.offset for tp, meta in offsets.items()})
        try:
            await self.consumer.commit(offsets)
        except CommitFailedError:
            # The group moved on; the next owner re-delivers and our handler is idempotent.
            log.warning("offset commit failed after rebalance", extra={"group": self.group_id})

    def _rewind(self, batches: Batches) -> None:
        """A batch fetched before a rebalance is not handled: where its partitions are (still or
        again) ours, fetch them again from its first record."""
        assigned = self.consumer.assignment()
        for tp, part in batches.items():
            if tp in assigned and part:
                self.consumer.seek(tp, part[0].offset)

    def _update_lag(self) -> None:
        per_topic: dict[str, int] = {}
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            position = self._positions.get(tp)
            if high is None or position is None:
                continue
            per_topic[tp.topic] = per_topic.get(tp.topic, 0) + max(high - position, 0)
        for topic in self.topics:
            CONSUMER_LAG.labels(self.group_id, topic).set(per_topic.get(topic, 0))

    async def stop(self) -> None:
        """Stop after the batch in hand is processed and committed."""
        self._stopping.set()
        async with self.lock:
            pass
