"""The router's baseline: a bare aiokafka consume-and-produce loop, nothing else.

getmany (up to 500) → send every record to the out topic → wait for the acks → commit offset+1,
with the router's consumer settings and the services' producer settings. Run as
``python -m bench.baseline_loop --group G --in bench.baseline.in --out bench.baseline.out``;
prints ``READY`` once its partitions are assigned and positioned.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence

import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata


class _Assigned(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        if assigned:
            self.event.set()


async def loop(bootstrap: str, group: str, source: str, sink: str) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="latest",
        isolation_level="read_committed",
        max_poll_interval_ms=300_000,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=3_000,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=2
    )
    stopping = asyncio.Event()
    running = asyncio.get_running_loop()
    running.add_signal_handler(signal.SIGTERM, stopping.set)
    await producer.start()
    await consumer.start()
    listener = _Assigned()
    consumer.subscribe([source], listener=listener)
    try:
        while not listener.event.is_set():
            await consumer.getmany(timeout_ms=100)
        for tp in consumer.assignment():
            await consumer.position(tp)
        print("READY", flush=True)
        while not stopping.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            if not batches:
                continue
            futures = [
                await producer.send(sink, value=r.value, key=r.key)
                for part in batches.values()
                for r in part
            ]
            await asyncio.gather(*futures)
            await consumer.commit(
                {tp: OffsetAndMetadata(part[-1].offset + 1, "") for tp, part in batches.items()}
            )
    finally:
        await consumer.stop()
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--group", required=True)
    parser.add_argument("--in", dest="source", default="bench.baseline.in")
    parser.add_argument("--out", dest="sink", default="bench.baseline.out")
    args = parser.parse_args()
    uvloop.run(loop(args.bootstrap, args.group, args.source, args.sink))


if __name__ == "__main__":
    main()
