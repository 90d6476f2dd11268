"""Dead letters: a record that can never be processed is parked with its reason, not retried."""

from __future__ import annotations

import base64

import msgspec
from aiokafka.structs import ConsumerRecord

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


async def publish_dead_letters(
    producer: ResilientProducer,
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
