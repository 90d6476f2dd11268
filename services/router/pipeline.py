"""What the router does with one consumed batch: triage, store, publish.

The consume loop (shared.kafka_consumer) commits offsets only after ``handle`` returns, so
everything here must be safe to run twice for the same records.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import msgspec

from services.router.identity import IdentityHasher
from services.router.metrics import BATCH_SECONDS, MESSAGES, REDACTIONS, ROUTED
from services.router.outbox import publish_outbox
from services.router.rules import RulesHolder
from services.router.store import Routed, store_batch
from services.router.triage_pool import Outcome, TriagePool
from shared.dead_letters import publish_dead_letters
from shared.kafka_consumer import Record
from shared.kafka_producer import ResilientProducer
from shared.models import InboundMessage
from shared.topics import ROUTER_DEAD_LETTERS

log = logging.getLogger(__name__)
_decode = msgspec.json.Decoder(InboundMessage).decode
GROUP = "router"
DEAD_LETTER_REASONS = ("invalid_envelope", "triage_failed", "refused_by_database")


Decoded = list[tuple[Record, InboundMessage]]


@dataclass
class _Triaging:
    """A batch whose triage was started before its turn (the consume loop's lookahead)."""

    records: list[Record]
    decoded: Decoded
    dead: list[tuple[Record, str]]
    running: asyncio.Future[list[Outcome]] | None

    def is_for(self, records: list[Record]) -> bool:
        return len(records) == len(self.records) and all(
            a is b for a, b in zip(records, self.records, strict=True)
        )


class RouterPipeline:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: ResilientProducer,
        rules: RulesHolder,
        hasher: IdentityHasher,
        *,
        triage_workers: int = 0,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._rules = rules
        self._hasher = hasher
        self._triage = TriagePool(rules, triage_workers)
        self._ahead: _Triaging | None = None

    async def start(self) -> None:
        await self._triage.warm()

    def close(self) -> None:
        self._drop_ahead()
        self._triage.close()

    def _drop_ahead(self) -> None:
        if self._ahead is not None and self._ahead.running is not None:
            self._ahead.running.cancel()
        self._ahead = None

    def _begin(self, records: list[Record]) -> _Triaging:
        decoded: Decoded = []
        dead: list[tuple[Record, str]] = []
        for record in records:
            try:
                decoded.append((record, _decode(record.value or b"")))
            except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
                dead.append((record, "invalid_envelope"))
        running = self._triage.start([r.value or b"" for r, _ in decoded]) if decoded else None
        return _Triaging(records, decoded, dead, running)

    def lookahead(self, records: list[Record]) -> None:
        """The next batch, while this one is stored: start its triage in the worker now."""
        if self._triage.parallel:
            self._drop_ahead()
            self._ahead = self._begin(records)

    async def handle(self, records: list[Record]) -> None:
        started = time.perf_counter()
        ahead, self._ahead = self._ahead, None
        if ahead is not None and not ahead.is_for(records):
            if ahead.running is not None:
                ahead.running.cancel()
            ahead = None
        batch = ahead or self._begin(records)
        dead = list(batch.dead)
        try:
            outcomes = await self._triage.result(batch.running, [m for _, m in batch.decoded])
        finally:
            if batch.running is not None:
                batch.running.cancel()
        items: list[tuple[Record, Routed]] = []
        for (record, message), outcome in zip(batch.decoded, outcomes, strict=True):
            if isinstance(outcome, str):
                log.error(
                    "triage failed", extra={"message_id": message.message_id, "error": outcome}
                )
                dead.append((record, "triage_failed"))
            else:
                items.append((record, Routed(message, *outcome)))
        if items:
            dead.extend(await self._store(items))
        await publish_dead_letters(self._producer, GROUP, ROUTER_DEAD_LETTERS, dead)
        MESSAGES.labels("dead_lettered").inc(len(dead))
        BATCH_SECONDS.observe(time.perf_counter() - started)

    async def _store(self, items: list[tuple[Record, Routed]]) -> list[tuple[Record, str]]:
        """Store and publish; returns the records the database refused (to dead-letter)."""
        now = datetime.now(UTC)
        try:
            await self._store_and_publish([routed for _, routed in items], now)
        except asyncpg.DataError:
            # Some value the database refuses: store the rest one by one, park the refused.
            refused: list[tuple[Record, str]] = []
            for record, routed in items:
                try:
                    await self._store_and_publish([routed], now)
                except asyncpg.DataError:
                    log.warning(
                        "message refused by the database",
                        extra={"message_id": routed.message.message_id},
                    )
                    refused.append((record, "refused_by_database"))
            return refused
        return []

    async def _store_and_publish(self, items: list[Routed], now: datetime) -> None:
        async with self._pool.acquire() as conn:
            stored = await store_batch(conn, items, self._hasher, now)
            await publish_outbox(conn, self._producer, stored.outbox_ids, stored.records)
        for event in stored.events:
            ROUTED.labels(event.channel, event.priority, event.skill_group).inc()
        MESSAGES.labels("routed").inc(len(stored.events))
        MESSAGES.labels("duplicate").inc(stored.duplicates)
        for item in stored.routed:
            for kind, n in item.redactions.items():
                REDACTIONS.labels(kind).inc(n)
