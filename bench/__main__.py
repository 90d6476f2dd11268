"""``python -m bench [--quick] [--only intake,router,sla] [--out FILE]``

Runs against the stack ``make up`` started (``.run/stack.env``), in this order: the router
pipeline (on a quiet stack), the intake (whose flood the router then drains: that backlog is
measured too), the SLA timer engine (last: its ladders fire later rungs for minutes), with the
RSS of every service before and after.
Prints a table and writes the JSON (default ``.run/bench/results.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop

from bench import intake, report, router, sla
from bench.kafka import group_lag
from bench.procs import Children, children
from bench.stack import (
    ROOT,
    RUN_DIR,
    Stack,
    StackError,
    load_stack,
    machine,
    memory_kb,
    service_pid,
    service_pids,
)
from shared.topics import INBOUND

PHASES = ("intake", "router", "sla")


def _options(quick: bool, run_id: str) -> dict[str, Any]:
    return {
        "intake": intake.IntakeOptions(
            seconds=5 if quick else 10,
            warmup_s=1 if quick else 2,
            threads=2,
            connections=32,
            extra_processes=2,
            noop_reuseport=not quick,
            run_id=run_id,
        ),
        "router": router.PipelineOptions(
            messages=5_000 if quick else 20_000,
            batch=500,
            concurrency=4,
            paced_rate=200,
            paced_seconds=5 if quick else 10,
            quiesce_timeout_s=60 if quick else 120,
            sla_wait_s=10 if quick else 45,
            run_id=run_id,
        ),
        "sla": sla.SlaOptions(
            tickets=100_000,
            due=40_000 if quick else 100_000,
            window_s=10 if quick else 25,
            lead_s=5 if quick else 12,
            background_rungs=not quick,
            burst=10_000 if quick else 30_000,
            run_id=run_id,
        ),
        "backlog_timeout_s": 15 if quick else 60,
    }


def _memory() -> dict[str, dict[str, int]]:
    out = {}
    for role, pids in service_pids().items():
        if role != "postgres" and pids:
            out[role] = memory_kb(pids[0])
    return out


async def _backlog(stack: Stack, timeout_s: float) -> dict[str, Any]:
    """How fast the router drains what the intake phase left on inbound.messages.v1."""
    start = (await group_lag(stack.bootstrap, {"router": [INBOUND]}))["router"]
    started = time.monotonic()
    lag = start
    while lag and time.monotonic() - started < timeout_s:
        await asyncio.sleep(0.5)
        lag = (await group_lag(stack.bootstrap, {"router": [INBOUND]}))["router"]
    elapsed = time.monotonic() - started
    drained = start - lag
    return {
        "router_backlog_at_start": start,
        "router_drained": drained,
        "router_left": lag,
        "router_s": round(elapsed, 1),
        "router_rate": round(drained / elapsed, 1) if drained and elapsed > 0.5 else None,
    }


def _stack_pids() -> dict[str, int | None]:
    return {name: service_pid(name) for name in ("intake", "router", "sla", "kafka")}


async def _phase(
    name: str, results: dict[str, Any], run: Callable[[], Awaitable[dict[str, Any]]]
) -> None:
    """Run one phase; note an error, and any stack process that restarted meanwhile (other
    people's tests on a shared machine): such a phase measured something else."""
    started = time.monotonic()
    before = _stack_pids()
    try:
        results[name] = await run()
    except Exception as exc:
        traceback.print_exc()
        results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    after = _stack_pids()
    changed = sorted(k for k in before if before[k] != after[k])
    if changed:
        results[name]["disturbed"] = f"restarted or stopped during the phase: {', '.join(changed)}"
        print(f"  WARNING: {results[name]['disturbed']}", flush=True)
    results[name]["phase_s"] = round(time.monotonic() - started, 1)


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip()


async def main_async(args: argparse.Namespace, kids: Children, commit: str) -> dict[str, Any]:
    stack = load_stack()
    run_id = f"{datetime.now(UTC):%m%d%H%M%S}-{uuid.uuid4().hex[:4]}"
    opts = _options(args.quick, run_id)
    results: dict[str, Any] = {
        "meta": {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "run_id": run_id,
            "quick": args.quick,
            "only": sorted(args.only),
            "commit": commit,
            "stack": stack.source,
            "python": platform.python_version(),
            "machine": machine(),
        }
    }
    results["memory"] = {"before": _memory()}
    started = time.monotonic()
    if "router" in args.only:
        await _phase("pipeline", results, lambda: router.run(stack, opts["router"], kids))
    if "intake" in args.only:
        await _phase("intake", results, lambda: intake.run(stack, opts["intake"], kids))
        if "router" in args.only:
            await _phase("backlog", results, lambda: _backlog(stack, opts["backlog_timeout_s"]))
    # Last: its ladders keep firing later rungs for minutes after the phase.
    if "sla" in args.only:
        await _phase("sla", results, lambda: sla.run(stack, opts["sla"], kids))
    results["memory"]["after"] = _memory()
    results["meta"]["seconds"] = round(time.monotonic() - started, 1)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs (about a minute)")
    parser.add_argument(
        "--only",
        default=",".join(PHASES),
        help="comma-separated subset of intake,router,sla (default: all)",
    )
    parser.add_argument("--out", type=Path, default=RUN_DIR / "bench" / "results.json")
    args = parser.parse_args()
    args.only = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = args.only - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s) {sorted(unknown)}; choose from {', '.join(PHASES)}")
    try:
        with children() as kids:
            results = uvloop.run(main_async(args, kids, _commit()))
    except StackError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted; children stopped", file=sys.stderr)
        return 130
    print()
    print(report.table(results))
    report.write_json(results, args.out)
    print(f"\nresults: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
