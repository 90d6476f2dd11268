"""Read back what a topic received since a moment: how a relay proves a record already landed.

A process can die after the broker acknowledged a record and before it noted that in
PostgreSQL. Re-publishing blindly would then send the record twice, so the relay first reads
the topic's tail (from the broker's time index, never from offset zero) and publishes only
what is really missing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

_SCAN_TIMEOUT_S = 30.0


async def ids_published_since(
    bootstrap_servers: str,
    topic: str,
    since: datetime,
    id_of: Callable[[bytes], str | None],
) -> set[str]:
    """Ids (as ``id_of`` reads them from each value) of committed records appended after ``since``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        client_id="switchboard-relay-scan",
    )
    await asyncio.wait_for(consumer.start(), _SCAN_TIMEOUT_S)
    try:
        return await asyncio.wait_for(
            _scan(consumer, bootstrap_servers, topic, since, id_of), _SCAN_TIMEOUT_S
        )
    finally:
        await asyncio.wait_for(consumer.stop(), _SCAN_TIMEOUT_S)


async def _partitions(bootstrap_servers: str, topic: str) -> list[TopicPartition]:
    # A consumer only knows the partitions of topics it subscribed to; ask the cluster.
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="switchboard-scan")
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [TopicPartition(topic, p["partition"]) for p in described.get("partitions", ())]


async def _scan(
    consumer: AIOKafkaConsumer,
    bootstrap_servers: str,
    topic: str,
    since: datetime,
    id_of: Callable[[bytes], str | None],
) -> set[str]:
    partitions = await _partitions(bootstrap_servers, topic)
    if not partitions:
        return set()
    consumer.assign(partitions)
    # Broker clocks and ours differ a little; a wider window only costs a few more records.
    start_ms = int((since - timedelta(seconds=30)).timestamp() * 1000)
    starts = await consumer.offsets_for_times({tp: start_ms for tp in partitions})
    ends = await consumer.end_offsets(partitions)
    todo: dict[TopicPartition, int] = {}
    for tp in partitions:
        found = starts.get(tp)
        if found is None or found.offset >= ends[tp]:
            continue
        consumer.seek(tp, found.offset)
        todo[tp] = ends[tp]
    seen: set[str] = set()
    while todo:
        batches = await consumer.getmany(*todo, timeout_ms=500, max_records=2000)
        for records in batches.values():
            for record in records:
                if record.value is not None and (found_id := id_of(record.value)) is not None:
                    seen.add(found_id)
        for tp in list(todo):
            # Transaction markers take offsets too, so compare positions, not record offsets.
            if await consumer.position(tp) >= todo[tp]:
                del todo[tp]
    return seen
