"""Publishing the transactional outbox.

The batch that wrote the rows publishes them right after its commit; the relay publishes rows
left behind by a process that died between its commit and its publish. Rows are deleted only
after Kafka acknowledged them, so a ticket stored is a ticket published (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from shared.kafka_producer import BrokerUnavailable, ResilientProducer

log = logging.getLogger(__name__)
RELAY_AFTER_S = 5.0


async def publish_outbox(
    db: asyncpg.Connection | asyncpg.Pool,
    producer: ResilientProducer,
    ids: list[int],
    records: list[tuple[str, bytes, bytes]],
) -> None:
    """Publish committed rows; ``db`` is the batch's own connection where it has one."""
    if not ids:
        return
    await producer.send_many(records)
    await db.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", ids)


async def relay_once(pool: asyncpg.Pool, producer: ResilientProducer, limit: int = 500) -> int:
    """Publish outbox rows older than a few seconds; safe to run in every replica at once."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """
            SELECT id, topic, key, value FROM outbox
            WHERE created_at < now() - make_interval(secs => $1)
            ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
            """,
            RELAY_AFTER_S,
            limit,
        )
        if not rows:
            return 0
        await producer.send_many([(r["topic"], bytes(r["key"]), bytes(r["value"])) for r in rows])
        await conn.execute(
            "DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
        )
    log.info("outbox relayed", extra={"records": len(rows)})
    return len(rows)


async def relay_forever(
    pool: asyncpg.Pool, producer: ResilientProducer, every_s: float = 2.0
) -> None:
    while True:
        with contextlib.suppress(BrokerUnavailable, OSError, asyncpg.PostgresError):
            while await relay_once(pool, producer):
                pass
        await asyncio.sleep(every_s)
