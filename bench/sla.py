"""SLA: how late the timer engine fires escalations with many open tickets.

The real ``SlaEngine`` (timer heap, ``refresh``, ``run_timers``, ``maintain``, the ledger insert,
the Kafka publish) runs in a child process against the real PostgreSQL, in a schema of its own
(``bench_sla_<run>``, copies of ``sla_timers`` and ``sla_escalations``) so that the running SLA
service never sees these timers, and publishes to ``bench.sla.escalations`` instead of the
contract topic. Nothing else about the engine is changed.

- spread: one rung due per open ticket, due instants spread uniformly over a window;
  lateness = Kafka ack of the escalation − the rung's due instant (``fire_at``), and the engine's
  own ``emitted_at − fire_at`` from the ledger;
- burst: many rungs due at the same instant (a shift starting, a policy change): how many
  escalations per second the firing path emits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import uvloop

from bench.kafka import ensure_topics
from bench.procs import PYTHON, Children
from bench.stack import RUN_DIR, CpuMeter, Stack, memory_kb, service_pids
from bench.stats import summary_ms
from services.sla.engine import SlaEngine
from services.sla.policy import load_policy
from shared.http import stop_task
from shared.kafka_producer import ResilientProducer
from shared.topics import ESCALATIONS

TOPIC = "bench.sla.escalations"
TARGET_P99_S = 1.0
_COLUMNS = (
    "dedupe_key",
    "ticket_id",
    "target",
    "level",
    "cycle",
    "kind",
    "escalate_to",
    "fire_at",
    "due_at",
    "priority",
    "skill_group",
    "channel",
    "updated_at",
)
# (level, kind, escalate_to) as in policies.yaml.
_RUNGS = ((1, "at_risk", "team_lead"), (2, "breached", "supervisor"), (3, "breached", "manager"))
_PRIORITIES = ("P1", "P2", "P3", "P4")
_GROUPS = ("security", "account", "payments", "funding", "refunds", "cards", "tech_support")
_CHANNELS = ("phone", "email", "chat", "social")


@dataclass(frozen=True)
class SlaOptions:
    tickets: int
    due: int
    window_s: float
    lead_s: float
    background_rungs: bool
    burst: int
    run_id: str


async def run(stack: Stack, opts: SlaOptions, kids: Children) -> dict[str, Any]:
    print(
        f"sla: {opts.tickets:,} open tickets, {opts.due:,} rungs due over {opts.window_s:g}s"
        f"{', 2 later rungs each' if opts.background_rungs else ''}; burst of {opts.burst:,}",
        flush=True,
    )
    out_path = RUN_DIR / "bench" / f"sla-{opts.run_id}.json"
    out_path.unlink(missing_ok=True)
    argv = [
        PYTHON,
        "-m",
        "bench.sla",
        "--tickets",
        str(opts.tickets),
        "--due",
        str(opts.due),
        "--window",
        str(opts.window_s),
        "--lead",
        str(opts.lead_s),
        "--burst",
        str(opts.burst),
        "--run-id",
        opts.run_id,
        "--json-out",
        str(out_path),
    ]
    if opts.background_rungs:
        argv.append("--background-rungs")
    env = {"BENCH_DATABASE_URL": stack.database_url, "BENCH_BOOTSTRAP": stack.bootstrap}
    child = kids.start("sla-engine", argv, env)
    meter = CpuMeter(service_pids({"sla_engine": [child.pid]}))
    meter.start()
    deadline = time.monotonic() + opts.lead_s + opts.window_s + 240
    peak: dict[str, int] = {}
    while child.alive() and time.monotonic() < deadline:
        peak = memory_kb(child.pid) or peak
        await asyncio.sleep(0.5)
    child.stop()
    cores = meter.stop(children_role="sla_engine")
    if not out_path.is_file():
        return {"skipped": f"SLA engine child failed:\n{child.log_tail()}"}
    result: dict[str, Any] = json.loads(out_path.read_text())
    out_path.unlink()
    result["cpu_cores"] = cores
    result["engine_rss_kb"] = peak
    spread = result.get("spread") or {}
    late = spread.get("published_lateness") or {}
    result["target_p99_ms"] = TARGET_P99_S * 1000
    result["meets_target"] = (
        late.get("p99_ms") is not None and late["p99_ms"] <= 1000 * TARGET_P99_S
    )
    burst = result.get("burst") or {}
    print(
        f"  spread           p50 {late.get('p50_ms')} ms  p99 {late.get('p99_ms')} ms late;"
        f" burst {burst.get('fire_rate')} timers/s",
        flush=True,
    )
    return result


# -- the child process ---------------------------------------------------------------------------


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _facts(i: int, now: datetime) -> tuple[object, ...]:
    return (_PRIORITIES[i % 4], _GROUPS[i % len(_GROUPS)], _CHANNELS[i % 4], now)


def _near_rows(
    tickets: list[uuid.UUID], first: float, window: float, now: datetime
) -> tuple[list[tuple[object, ...]], dict[bytes, float]]:
    """One rung per ticket, due uniformly within ``window`` seconds from ``first``."""
    rows: list[tuple[object, ...]] = []
    due: dict[bytes, float] = {}
    for i, tid in enumerate(tickets):
        fire = first + (random.uniform(0, window) if window > 0 else 0.0)
        fire_at = datetime.fromtimestamp(fire, UTC)
        target = "first_response" if i % 2 else "resolution"
        level, kind, to = _RUNGS[i % len(_RUNGS)]
        deadline = fire_at + timedelta(minutes=3) if kind == "at_risk" else fire_at
        key = f"{tid}/{target}/{level}"
        rows.append((key, tid, target, level, 0, kind, to, fire_at, deadline, *_facts(i, now)))
        due[str(tid).encode()] = fire
    return rows, due


def _far_rows(
    tickets: list[uuid.UUID], due_count: int, background: bool, now: datetime
) -> list[tuple[object, ...]]:
    """Rungs hours away (they fill the table and the heap, never fire): the one rung of each
    ticket past ``due_count``, and with ``background`` two rungs of every ticket's other clock."""
    rows: list[tuple[object, ...]] = []
    for i, tid in enumerate(tickets):
        other = "resolution" if i % 2 else "first_response"
        rungs: list[tuple[str, tuple[int, str, str], float]] = []
        if i >= due_count:
            rungs.append((other, _RUNGS[0], random.uniform(4, 8)))
        if background:
            rungs += [(other, _RUNGS[1], 1 + random.random()), (other, _RUNGS[2], 3.0)]
        for target, (level, kind, to), hours in rungs:
            at = now + timedelta(hours=hours)
            key = f"{tid}/{target}/{level}"
            rows.append((key, tid, target, level, 0, kind, to, at, at, *_facts(i, now)))
    return rows


class BenchProducer(ResilientProducer):
    """The services' producer, with escalations sent to the bench topic and their acks noted."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(bootstrap, client_id="bench-sla")
        self.acked: dict[bytes, float] = {}
        self.batches: list[int] = []

    async def send_many(self, records: list[tuple[str, bytes, bytes]]) -> None:
        await super().send_many([(TOPIC if t == ESCALATIONS else t, k, v) for t, k, v in records])
        acked = time.time()
        self.batches.append(len(records))
        for topic, key, _ in records:
            if topic == ESCALATIONS:
                self.acked.setdefault(key, acked)


class _ErrorCount(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


class _Rounds:
    """Durations and sizes of the engine's ``fire`` and ``refresh`` calls (wrapped on the
    instance; the engine's code is not changed)."""

    def __init__(self, engine: SlaEngine) -> None:
        self.fire: list[tuple[int, float]] = []
        self.refresh: list[tuple[int, float]] = []
        fire, refresh = engine.fire, engine.refresh

        async def timed_fire(keys: list[str]) -> int:
            started = time.perf_counter()
            try:
                return await fire(keys)
            finally:
                self.fire.append((len(keys), time.perf_counter() - started))

        async def timed_refresh() -> int:
            started = time.perf_counter()
            loaded = 0
            try:
                loaded = await refresh()
                return loaded
            finally:
                self.refresh.append((loaded, time.perf_counter() - started))

        engine.fire = timed_fire  # type: ignore[method-assign]
        engine.refresh = timed_refresh  # type: ignore[method-assign]

    def take(self) -> dict[str, Any]:
        def stats(calls: list[tuple[int, float]]) -> dict[str, Any]:
            if not calls:
                return {"calls": 0}
            slowest = max(calls, key=lambda c: c[1])
            return {
                "calls": len(calls),
                "items": sum(n for n, _ in calls),
                "max_items": max(n for n, _ in calls),
                "max_ms": round(slowest[1] * 1000, 1),
                "items_in_slowest": slowest[0],
                "total_ms": round(sum(d for _, d in calls) * 1000),
            }

        out = {"fire": stats(self.fire), "refresh": stats(self.refresh)}
        self.fire, self.refresh = [], []
        return out


async def _insert(conn: asyncpg.Connection, schema: str, rows: list[tuple[object, ...]]) -> None:
    await conn.copy_records_to_table(
        "sla_timers", records=rows, columns=_COLUMNS, schema_name=schema
    )


async def _child(args: argparse.Namespace) -> dict[str, Any]:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    errors = _ErrorCount()
    logging.getLogger("services.sla").addHandler(errors)
    dsn = os.environ["BENCH_DATABASE_URL"]
    bootstrap = os.environ["BENCH_BOOTSTRAP"]
    schema = f"bench_sla_{args.run_id}".replace("-", "_")
    await ensure_topics(bootstrap, [TOPIC], 3)
    admin = await asyncpg.connect(dsn)
    await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
    for table in ("sla_timers", "sla_escalations"):
        await admin.execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)")
    pool = await asyncpg.create_pool(
        dsn, min_size=2, max_size=10, server_settings={"search_path": schema}
    )
    producer = BenchProducer(bootstrap)
    await producer.start()
    engine = SlaEngine(pool, producer, load_policy(None))
    rounds = _Rounds(engine)
    result: dict[str, Any] = {
        "tickets": args.tickets,
        "due_in_window": args.due,
        "window_s": args.window,
        "background_rungs": args.background_rungs,
        "schema": schema,
    }
    tasks: list[asyncio.Task[None]] = []
    result["rss_kb_empty"] = _rss_kb()
    try:
        # Start-up with every open ticket's later rungs stored (refresh() without a watermark).
        tickets = [uuid.uuid4() for _ in range(args.tickets)]
        rows = _far_rows(tickets, args.due, args.background_rungs, datetime.now(UTC))
        started = time.perf_counter()
        await _insert(admin, schema, rows)
        await admin.execute(f"ANALYZE {schema}.sla_timers")  # as autovacuum soon would
        result["insert_s"] = round(time.perf_counter() - started, 2)
        # Rungs beyond the engine's horizon stay in PostgreSQL: start-up reads none of them.
        started = time.perf_counter()
        result["startup_loaded"] = await engine.refresh()
        result["startup_refresh_s"] = round(time.perf_counter() - started, 3)

        # Spread: rungs due over the window, adopted through refresh() as timers another
        # replica wrote, then fired by run_timers() with maintain() running beside it.
        first = time.time() + args.lead
        rows, due = _near_rows(tickets[: args.due], first, args.window, datetime.now(UTC))
        await _insert(admin, schema, rows)
        rss_before = _rss_kb()
        started = time.perf_counter()
        loaded = await engine.refresh()
        refresh_s = time.perf_counter() - started
        adopted = time.time()
        result["refresh_s"] = round(refresh_s, 2)
        result["refresh_rate"] = round(loaded / refresh_s) if loaded else None
        result["rss_kb_with_timers"] = _rss_kb()
        if loaded:
            grown = result["rss_kb_with_timers"] - rss_before
            result["bytes_per_timer"] = round(grown * 1024 / loaded)
        result["timers_in_heap"] = len(engine.timers)
        rounds.take()
        early = {k for k, at in due.items() if at < adopted}
        result["due_before_adopted"] = len(early)
        tasks = [
            asyncio.create_task(engine.run_timers(), name="bench-sla-timers"),
            asyncio.create_task(engine.maintain(), name="bench-sla-maintain"),
        ]
        spread = await _await_fired(producer.acked, due, first + args.window + 60, early)
        spread.update(await _ledger(admin, schema, due, early))
        spread["publish_batches"] = {
            "count": len(producer.batches),
            "max": max(producer.batches, default=0),
        }
        spread["offered_rate"] = round(args.due / max(args.window, 1e-9))
        spread["engine_calls"] = rounds.take()
        result["spread"] = spread

        if args.burst:
            # Many rungs due at one instant; their updated_at is set ahead so that a concurrent
            # maintain() round cannot move refresh()'s watermark past them while they are written.
            producer.batches.clear()
            burst_at = time.time() + 1.5 + args.burst / 20_000
            stamp = datetime.now(UTC) + timedelta(seconds=5)
            burst_tickets = [uuid.uuid4() for _ in range(args.burst)]
            rows, burst_due = _near_rows(burst_tickets, burst_at, 0.0, stamp)
            await _insert(admin, schema, rows)
            await engine.refresh()
            burst = await _await_fired(producer.acked, burst_due, burst_at + 120)
            for _ in range(300):  # the last fire() call is still marking its rows published
                if rounds.fire:
                    break
                await asyncio.sleep(0.1)
            burst.update(await _ledger(admin, schema, burst_due))
            burst["timers"] = args.burst
            burst["engine_calls"] = rounds.take()
            burst["publish_batches"] = {
                "count": len(producer.batches),
                "max": max(producer.batches, default=0),
            }
            result["burst"] = burst
        result["engine_errors_logged"] = errors.count
    finally:
        for task in tasks:
            await stop_task(task, grace_s=0)
        await producer.stop()
        await pool.close()
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.close()
    return result


async def _await_fired(
    acked: dict[bytes, float],
    due: dict[bytes, float],
    deadline: float,
    exclude: set[bytes] | None = None,
) -> dict[str, Any]:
    """Wait until Kafka acknowledged every rung of ``due`` (or the deadline). Lateness leaves
    out ``exclude``: rungs already due before the engine had adopted them."""
    while time.time() < deadline:
        if sum(1 for k in due if k in acked) >= len(due):
            break
        await asyncio.sleep(0.2)
    fired = [k for k in due if k in acked]
    out: dict[str, Any] = {"due": len(due), "published": len(fired)}
    if fired:
        first_due = min(due.values())
        out["fire_rate"] = round(len(fired) / max(max(acked[k] for k in fired) - first_due, 1e-3))
        lateness = [acked[k] - due[k] for k in fired if not exclude or k not in exclude]
        out["published_lateness"] = summary_ms(lateness)
    return out


async def _ledger(
    conn: asyncpg.Connection,
    schema: str,
    due: dict[bytes, float],
    exclude: set[bytes] | None = None,
) -> dict[str, Any]:
    """The engine's own stamp: ``emitted_at − fire_at`` of the ledger rows."""
    ids = [uuid.UUID(k.decode()) for k in due if not exclude or k not in exclude]
    rows = await conn.fetch(
        f"SELECT extract(epoch FROM emitted_at - fire_at)::float8 AS late"
        f" FROM {schema}.sla_escalations WHERE ticket_id = ANY($1::uuid[])",
        ids,
    )
    return {"ledger_rows": len(rows), "emitted_lateness": summary_ms([r["late"] for r in rows])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--window", type=float, default=25.0)
    parser.add_argument("--lead", type=float, default=8.0)
    parser.add_argument("--burst", type=int, default=20_000)
    parser.add_argument("--background-rungs", action="store_true")
    parser.add_argument("--run-id", default=uuid.uuid4().hex[:8])
    parser.add_argument("--json-out", type=Path, required=True)
    args = parser.parse_args()
    result = uvloop.run(_child(args))
    args.json_out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
