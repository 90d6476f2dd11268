"""Dead letters: a record that can never be processed is parked with its reason, not retried."""

from __future__ import annotations

import base64

import msgspec
from aiokafka.structs import ConsumerRecord
from prometheus_client import Counter

from shared.kafka_producer import ResilientProducer


class DeadLetter(msgspec.Struct, kw_only=True):
    schema: str = "deadletter.v1"
    reason: str
    source_topic: str
    source_partition: int
    source_offset: int
    # The original value, byte for byte, so that it can be replayed once the cause is fixed.
    value_b64: str


_encode = msgspec.json.Encoder().encode

DEAD_LETTERS = Counter(
    "switchboard_dead_letters_total",
    "Records sent to a dead-letter topic, by consumer group and reason.",
    ["group", "reason"],
)


def declare_reasons(group: str, reasons: tuple[str, ...]) -> None:
    """Export every series at 0 from the start, so rate() sees the first dead letter."""
    for reason in reasons:
        DEAD_LETTERS.labels(group, reason)


async def publish_dead_letters(
    producer: ResilientProducer,
    group: str,
    topic: str,
    dead: list[tuple[ConsumerRecord[bytes, bytes], str]],
) -> None:
    if not dead:
        return
    await producer.send_many(
        [
            (
                topic,
                record.key or b"",
                _encode(
                    DeadLetter(
                        reason=reason,
                        source_topic=record.topic,
                        source_partition=record.partition,
                        source_offset=record.offset,
                        value_b64=base64.b64encode(record.value or b"").decode(),
                    )
                ),
            )
            for record, reason in dead
        ]
    )
    for _, reason in dead:
        DEAD_LETTERS.labels(group, reason).inc()
