"""What the router does with one consumed batch: triage, store, publish.

The consume loop (shared.kafka_consumer) commits offsets only after ``handle`` returns, so
everything here must be safe to run twice for the same records.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import asyncpg
import msgspec

from services.router.identity import IdentityHasher
from services.router.metrics import BATCH_SECONDS, MESSAGES, REDACTIONS, ROUTED
from services.router.outbox import publish_outbox
from services.router.rules import RulesHolder
from services.router.store import Routed, store_batch
from services.router.triage import TriageInput
from shared.dead_letters import publish_dead_letters
from shared.kafka_consumer import Record
from shared.kafka_producer import ResilientProducer
from shared.models import InboundMessage
from shared.topics import ROUTER_DEAD_LETTERS

log = logging.getLogger(__name__)
_decode = msgspec.json.Decoder(InboundMessage).decode
GROUP = "router"
DEAD_LETTER_REASONS = ("invalid_envelope", "triage_failed", "refused_by_database")


def _clean(text: str | None) -> str | None:
    """PostgreSQL text holds neither NUL nor lone surrogates; both can arrive in valid JSON."""
    if text is None:
        return None
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


class RouterPipeline:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: ResilientProducer,
        rules: RulesHolder,
        hasher: IdentityHasher,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._rules = rules
        self._hasher = hasher

    def triage(self, message: InboundMessage) -> Routed:
        triage = self._rules.current
        body = _clean(message.body) or ""
        subject = _clean(message.subject)
        quoted = _clean(message.quoted)
        decision = triage.decide(
            TriageInput(
                channel=message.channel,
                text=body,
                subject=subject,
                quoted=quoted,
                visibility=message.visibility,
                ivr_selection=tuple(message.ivr_selection),
                attributes=message.attributes,
                language=message.language,
            )
        )
        counts: dict[str, int] = {}
        redacted: list[str | None] = []
        for text in (body, subject, quoted):
            if text is None:
                redacted.append(None)
                continue
            result = triage.redact(message.channel, text)
            redacted.append(result.text)
            for kind, n in result.counts.items():
                counts[kind] = counts.get(kind, 0) + n
        full = redacted[0] or ""
        if redacted[2]:
            full = f"{full}\n\n{redacted[2]}" if full else redacted[2]
        return Routed(
            message=message,
            intent=decision.intent,
            skill_group=decision.skill_group,
            priority=decision.priority,
            language=decision.language,
            reasons=decision.reasons,
            body=full,
            subject=redacted[1],
            quoted=redacted[2],
            redactions=counts,
        )

    async def handle(self, records: list[Record]) -> None:
        started = time.perf_counter()
        items: list[tuple[Record, Routed]] = []
        dead: list[tuple[Record, str]] = []
        for record in records:
            try:
                message = _decode(record.value or b"")
            except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
                dead.append((record, "invalid_envelope"))
                continue
            try:
                items.append((record, self.triage(message)))
            except Exception:
                log.exception("triage failed", extra={"message_id": message.message_id})
                dead.append((record, "triage_failed"))
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
        await publish_outbox(self._pool, self._producer, stored.outbox_ids, stored.records)
        for event in stored.events:
            ROUTED.labels(event.channel, event.priority, event.skill_group).inc()
        MESSAGES.labels("routed").inc(len(stored.events))
        MESSAGES.labels("duplicate").inc(stored.duplicates)
        for item in stored.routed:
            for kind, n in item.redactions.items():
                REDACTIONS.labels(kind).inc(n)
