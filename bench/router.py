"""Pipeline: messages posted to the intake until they come out of the router on
``tickets.routed.v1``, beside a bare aiokafka consume-and-produce loop fed the same records.

Two shapes, each for the router and for the baseline:
- drain: N messages posted as fast as the intake's batch endpoint takes them (500 per call);
  rate = messages / (last routed event − first post), latency = routed event − its 202;
- paced: single messages at a fixed rate far below capacity; latency = routed event − its 202.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import msgspec

from bench.kafka import ArrivalWatcher, ensure_topics, wait_caught_up
from bench.loadgen import chat_message
from bench.procs import PYTHON, Child, Children
from bench.stack import CpuMeter, Stack, service_pids, wait_http
from bench.stats import ratio, steady_rate, summary_ms
from services.intake.channels import chat
from shared.kafka_producer import ResilientProducer
from shared.topics import INBOUND, LIFECYCLE, ROUTED

BASELINE_IN = "bench.baseline.in"
BASELINE_OUT = "bench.baseline.out"
PARTITIONS = 6  # as inbound.messages.v1 and tickets.routed.v1
TARGET_RATE = 2000.0
_encode = msgspec.json.Encoder().encode

Accepted = dict[str, float]  # message id -> wall-clock time of its 202 (or of its Kafka ack)
SendOne = Callable[[int], Awaitable[tuple[str, float] | None]]


@dataclass(frozen=True)
class PipelineOptions:
    messages: int
    batch: int
    concurrency: int
    paced_rate: int
    paced_seconds: float
    quiesce_timeout_s: float
    sla_wait_s: float
    run_id: str


def measure(
    accepted: Accepted, arrivals: dict[str, tuple[float, float | None]], first_post: float
) -> dict[str, Any]:
    """The same figures for the router and the baseline, from 202 (ack) times and arrivals."""
    matched = [m for m in accepted if m in arrivals]
    arrived = [arrivals[m][0] for m in matched]
    out: dict[str, Any] = {"posted": len(accepted), "routed": len(matched)}
    if not matched:
        return out
    last = max(arrived)
    out["ingest_rate"] = round(len(accepted) / max(max(accepted.values()) - first_post, 1e-9), 1)
    out["rate"] = round(len(matched) / max(last - first_post, 1e-9), 1)
    out["steady_rate"] = round(steady_rate(arrived) or 0.0, 1) or None
    out["seconds"] = round(last - first_post, 2)
    out["latency"] = summary_ms([arrivals[m][0] - accepted[m] for m in matched])
    stamped = [s - accepted[m] for m in matched if (s := arrivals[m][1]) is not None]
    if stamped:
        out["latency_to_routed_at"] = summary_ms(stamped)
    return out


async def _post_batches(
    session: aiohttp.ClientSession, url: str, bodies: list[bytes], concurrency: int
) -> tuple[float, Accepted, int]:
    accepted: Accepted = {}
    rejected = 0
    queue = list(reversed(bodies))

    async def worker() -> None:
        nonlocal rejected
        while queue:
            body = queue.pop()
            async with session.post(url, data=body) as resp:
                data = await resp.json()
                answered = time.time()
                if resp.status != 200:
                    rejected += body.count(b'"session_id"')
                    continue
            for item in data["results"]:
                if item["status"] == 202:
                    accepted[item["message_id"]] = answered
                else:
                    rejected += 1

    first = time.time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return first, accepted, rejected


async def _paced(rate: int, seconds: float, send_one: SendOne) -> tuple[float, Accepted, int]:
    """Open loop: message i leaves at first + i/rate whether or not earlier ones were answered."""
    accepted: Accepted = {}
    failed = 0

    async def one(i: int) -> None:
        nonlocal failed
        try:
            got = await send_one(i)
        except Exception:
            got = None
        if got is None:
            failed += 1
        else:
            accepted[got[0]] = got[1]

    tasks = []
    first = time.time()
    start = time.monotonic()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return first, accepted, failed


_BATCH_METRICS = (
    "switchboard_router_batch_duration_seconds_count",
    "switchboard_router_batch_duration_seconds_sum",
    'switchboard_router_messages_total{outcome="routed"}',
)


async def _router_metrics(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    """The router's batch histogram and routed counter, from its /metrics."""
    async with session.get(f"{url}/metrics") as resp:
        text = await resp.text()
    values = {}
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name in _BATCH_METRICS:
            values[name] = float(value)
    return values


def _batch_stats(
    before: dict[str, float], after: dict[str, float], seconds: float
) -> dict[str, Any]:
    """Batches the router handled meanwhile, their mean size and duration, and the share of the
    drain it spent inside ``handle`` (the rest: fetching, committing, idle)."""
    count, total, routed = (after.get(k, 0.0) - before.get(k, 0.0) for k in _BATCH_METRICS)
    if count <= 0:
        return {}
    return {
        "batches": int(count),
        "mean_batch_size": round(routed / count, 1),
        "mean_batch_ms": round(total / count * 1000, 1),
        "share_in_handle": round(total / seconds, 2) if seconds > 0 else None,
    }


async def _stored(database_url: str, ids: list[str]) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM messages WHERE message_id = ANY($1::uuid[])", ids
        )
        return int(count)
    finally:
        await conn.close()


async def _router(stack: Stack, opts: PipelineOptions) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {stack.intake_token}", "Content-Type": "application/json"}
    messages = [chat_message(f"{opts.run_id}-drain", 0, i) for i in range(opts.messages)]
    bodies = [
        json.dumps({"messages": messages[i : i + opts.batch]}).encode()
        for i in range(0, len(messages), opts.batch)
    ]
    out: dict[str, Any] = {}
    async with aiohttp.ClientSession(
        headers=headers, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:
        watcher = ArrivalWatcher(stack.bootstrap, ROUTED)
        await watcher.start()
        try:
            metrics_before = await _router_metrics(session, stack.router_url)
            meter = CpuMeter(service_pids())
            meter.start()
            first, accepted, rejected = await _post_batches(
                session, f"{stack.intake_url}/v1/inbound/chat/batch", bodies, opts.concurrency
            )
            watcher.expect(accepted)
            await watcher.wait_all(max(60.0, opts.messages / 500))
            drain = measure(accepted, watcher.matched(), first)
            drain["cpu_cores"] = meter.stop()
            metrics_after = await _router_metrics(session, stack.router_url)
            drain["router_batches"] = _batch_stats(
                metrics_before, metrics_after, float(drain.get("seconds") or 0.0)
            )
            drain["rejected"] = rejected
            drain["stored"] = await _stored(stack.database_url, list(accepted))
            caught_up, _, lags = await wait_caught_up(
                stack.bootstrap, {"sla": [ROUTED]}, opts.sla_wait_s, 0.25
            )
            sla_s = time.time() - first
            if caught_up:
                drain["sla_caught_up_s"] = round(sla_s, 2)
                drain["sla_rate"] = round(len(accepted) / sla_s, 1)
            else:
                drain["sla_lag_left"] = lags["sla"]
                drain["sla_rate_lower_bound"] = round((len(accepted) - lags["sla"]) / sla_s, 1)
            out["drain"] = drain
            print(
                f"  router drain     {drain.get('rate', 0):>9,.0f} msg/s  "
                f"({drain['routed']:,}/{drain['posted']:,} routed, stored {drain['stored']:,})",
                flush=True,
            )
        finally:
            await watcher.stop()

        watcher = ArrivalWatcher(stack.bootstrap, ROUTED)
        await watcher.start()
        try:

            async def post_one(i: int) -> tuple[str, float] | None:
                body = json.dumps(chat_message(f"{opts.run_id}-paced", 0, i)).encode()
                async with session.post(f"{stack.intake_url}/v1/inbound/chat", data=body) as resp:
                    data = await resp.json()
                    return (data["message_id"], time.time()) if resp.status == 202 else None

            first, accepted, failed = await _paced(opts.paced_rate, opts.paced_seconds, post_one)
            watcher.expect(accepted)
            await watcher.wait_all(30)
            paced = measure(accepted, watcher.matched(), first)
            paced["rate"] = opts.paced_rate
            paced["failed"] = failed
            out["paced"] = paced
        finally:
            await watcher.stop()
    return out


async def _wait_ready_line(child: Child, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and child.alive():
        if "READY" in child.log_tail(5):
            return True
        await asyncio.sleep(0.1)
    return False


async def _baseline(stack: Stack, opts: PipelineOptions, kids: Children) -> dict[str, Any]:
    await ensure_topics(stack.bootstrap, [BASELINE_IN, BASELINE_OUT], PARTITIONS)
    argv = [
        PYTHON,
        "-m",
        "bench.baseline_loop",
        "--bootstrap",
        stack.bootstrap,
        "--group",
        f"bench-baseline-{opts.run_id}",
        "--in",
        BASELINE_IN,
        "--out",
        BASELINE_OUT,
    ]
    loop = kids.start("baseline-loop", argv)
    if not await _wait_ready_line(loop, 60):
        return {"skipped": f"baseline loop did not start:\n{loop.log_tail()}"}

    def records(tag: str, count: int) -> list[tuple[str, bytes, bytes]]:
        """The envelopes the intake would have produced for the same messages."""
        now = datetime.now(UTC)
        out = []
        for i in range(count):
            envelope = chat.from_json(json.dumps(chat_message(tag, 0, i)).encode(), now)
            out.append((BASELINE_IN, envelope.conversation_key.encode(), _encode(envelope)))
        return out

    def message_id(value: bytes) -> str:
        return str(json.loads(value)["message_id"])

    drain_records = records(f"{opts.run_id}-bdrain", opts.messages)
    batches = [drain_records[i : i + opts.batch] for i in range(0, len(drain_records), opts.batch)]
    paced_records = records(f"{opts.run_id}-bpaced", int(opts.paced_rate * opts.paced_seconds))
    producer = ResilientProducer(stack.bootstrap, client_id="bench-baseline")
    await producer.start()
    out: dict[str, Any] = {}
    try:
        watcher = ArrivalWatcher(stack.bootstrap, BASELINE_OUT)
        await watcher.start()
        try:
            meter = CpuMeter(service_pids({"baseline_loop": [loop.pid]}))
            meter.start()
            accepted: Accepted = {}
            queue = list(reversed(batches))

            async def worker() -> None:
                while queue:
                    batch = queue.pop()
                    await producer.send_many(batch)
                    acked = time.time()
                    for _, _, value in batch:
                        accepted[message_id(value)] = acked

            first = time.time()
            await asyncio.gather(*(worker() for _ in range(opts.concurrency)))
            watcher.expect(accepted)
            await watcher.wait_all(60)
            out.update(measure(accepted, watcher.matched(), first))
            out["cpu_cores"] = meter.stop()
        finally:
            await watcher.stop()

        watcher = ArrivalWatcher(stack.bootstrap, BASELINE_OUT)
        await watcher.start()
        try:

            async def send_one(i: int) -> tuple[str, float]:
                topic, key, value = paced_records[i]
                await producer.send(topic, key, value)
                return message_id(value), time.time()

            first, accepted, failed = await _paced(opts.paced_rate, opts.paced_seconds, send_one)
            watcher.expect(accepted)
            await watcher.wait_all(30)
            paced = measure(accepted, watcher.matched(), first)
            paced["rate"] = opts.paced_rate
            paced["failed"] = failed
            out["paced"] = paced
        finally:
            await watcher.stop()
    finally:
        await producer.stop()
        loop.stop()
    print(
        f"  baseline loop    {out.get('rate', 0):>9,.0f} msg/s  ({out.get('routed', 0):,} forwarded)",
        flush=True,
    )
    return out


async def run(stack: Stack, opts: PipelineOptions, kids: Children) -> dict[str, Any]:
    if not await wait_http(f"{stack.router_url}/readyz", 10):
        return {"skipped": f"router not ready at {stack.router_url}/readyz"}
    print(
        f"pipeline: {opts.messages:,} messages in batches of {opts.batch}, then "
        f"{opts.paced_rate}/s for {opts.paced_seconds:g}s",
        flush=True,
    )
    caught_up, waited, lags = await wait_caught_up(
        stack.bootstrap, {"router": [INBOUND], "sla": [ROUTED, LIFECYCLE]}, opts.quiesce_timeout_s
    )
    results: dict[str, Any] = {
        "messages": opts.messages,
        "batch": opts.batch,
        "concurrency": opts.concurrency,
        "target_rate": TARGET_RATE,
        "quiesce": {"caught_up": caught_up, "waited_s": round(waited, 1), "lags": lags},
    }
    results.update(await _router(stack, opts))
    results["baseline"] = await _baseline(stack, opts, kids)
    drain = results.get("drain") or {}
    base = results["baseline"]
    results["ratio"] = ratio(drain.get("rate"), base.get("rate"))
    results["meets_target"] = (drain.get("rate") or 0) >= TARGET_RATE
    return results
