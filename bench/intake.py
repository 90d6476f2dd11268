"""Intake: distinct chat messages per second and latency, beside an aiohttp no-op handler, then
the same load on several intake processes sharing one port (SO_REUSEPORT).

The ratio compares one process with one process: an intake of its own (the stack's settings,
publishing to the bench's sink topic, so that no router or SLA service consumes what it
accepts on the same two cores) against the no-op, loaded in turn for three rounds. The stack's intake, whose messages the
router and SLA service process meanwhile, is measured too, as the figure of the whole system.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import time
import urllib.request
from dataclasses import dataclass, replace
from typing import Any

from bench import loadgen
from bench.kafka import ensure_topics
from bench.procs import PYTHON, Children
from bench.stack import ROOT, CpuMeter, Stack, memory_kb, service_pids, wait_http
from bench.stats import ratio

CHAT_PATH = "/v1/inbound/chat"
TARGET_RATIO = 0.6
SINK_TOPIC = "bench.intake.sink"
SINK_PARTITIONS = 6  # as inbound.messages.v1
SETTLE_CORES = 0.25
ROUNDS = 3


@dataclass(frozen=True)
class IntakeOptions:
    seconds: float
    warmup_s: float
    threads: int
    connections: int
    extra_processes: int
    noop_reuseport: bool
    run_id: str


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port")


def _post_one(url: str, token: str, run_id: str) -> int:
    body = json.dumps(loadgen.chat_message(run_id, 0, 1)).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return int(resp.status)


async def _load(
    url: str, opts: IntakeOptions, token: str, label: str, roles: dict[str, list[int]]
) -> dict[str, Any]:
    """Warm up, then measure; both with distinct messages (the run id differs)."""

    async def once(seconds: float, run_id: str) -> loadgen.LoadResult:
        if loadgen.wrk_path():
            return await asyncio.to_thread(
                loadgen.run_wrk,
                url,
                seconds=seconds,
                threads=opts.threads,
                connections=opts.connections,
                token=token,
                run_id=run_id,
            )
        return await loadgen.run_python(
            url, seconds=seconds, connections=opts.connections, token=token, run_id=run_id
        )

    if opts.warmup_s > 0:
        await once(opts.warmup_s, f"{opts.run_id}-{label}-warm")
    meter = CpuMeter(roles)
    meter.start()
    result = await once(opts.seconds, f"{opts.run_id}-{label}")
    cores = meter.stop(children_role="load_tool")
    print(
        f"  {label:<16} {result.rps:>9,.0f} req/s  p50 {result.p50_ms:6.2f} ms"
        f"  p99 {result.p99_ms:7.2f} ms  errors {result.errors}",
        flush=True,
    )
    return {**result.as_dict(), "cpu_cores": cores}


async def _wait_reuseport(url: str, procs: list[int], timeout_s: float) -> bool:
    """All processes alive and /readyz answering 200 several times in a row."""
    deadline = time.monotonic() + timeout_s
    streak = 0
    while time.monotonic() < deadline:
        if not all(memory_kb(p) for p in procs):
            return False
        streak = streak + 1 if await wait_http(url, 1.0) else 0
        if streak >= 3 * len(procs):
            return True
        await asyncio.sleep(0.05)
    return False


def _intake_env(stack: Stack, port: int, *, reuse_port: bool) -> dict[str, str]:
    """A ``switchboard intake`` like the stack's, on its own port, publishing to the sink."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap,
        "DATABASE_URL": stack.database_url,
        "INTAKE_TOKENS": f"{stack.intake_token}=phone,email,chat,social",
        "INTAKE_TOPIC": SINK_TOPIC,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
        "HTTP_REUSE_PORT": "1" if reuse_port else "",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }


async def _settle(timeout_s: float = 60.0) -> float:
    """Wait until the stack is quiet (the SLA phase leaves rungs firing and PostgreSQL
    vacuuming): the seconds waited, at most ``timeout_s``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        meter = CpuMeter(service_pids())
        meter.start()
        await asyncio.sleep(1.0)
        cores = meter.stop()
        busy = sum(v for k, v in cores.items() if k in {"router", "sla", "postgres", "kafka"})
        if busy < SETTLE_CORES:
            break
    return round(time.monotonic() - started, 1)


async def _paired(
    stack: Stack, opts: IntakeOptions, kids: Children, results: dict[str, Any]
) -> None:
    """The no-op and one intake process, loaded in turn for ``ROUNDS`` rounds of half the
    phase's seconds each: on a shared machine the capacity drifts over a minute, and one run
    of each, one after the other, measured the drift as much as the intake (ratios from 0.55
    to 0.65 for the same code). Each round's ratio compares neighbours in time; the ratio is
    their median, the rows are each side's median round."""
    noop_port = free_port(18090)
    noop_argv = [PYTHON, "-m", "bench.noop_server", "--port", str(noop_port)]
    noop = kids.start("noop", noop_argv)
    port = free_port(18082)
    cli = str(ROOT / ".venv" / "bin" / "switchboard")
    proc = kids.start(f"intake-{port}", [cli, "intake"], _intake_env(stack, port, reuse_port=False))
    if not await wait_http(f"http://127.0.0.1:{noop_port}/healthz", 15):
        raise RuntimeError(f"no-op server did not start:\n{noop.log_tail()}")
    if not await wait_http(f"http://127.0.0.1:{port}/readyz", 30):
        results["noop"] = {"skipped": "the intake it is compared with did not start"}
        results["isolated"] = {"skipped": f"intake on :{port} did not become ready"}
        results["isolated_log"] = proc.log_tail()
        noop.stop()
        proc.stop()
        return
    noop_url = f"http://127.0.0.1:{noop_port}{CHAT_PATH}"
    intake_url = f"http://127.0.0.1:{port}{CHAT_PATH}"
    noop_roles = service_pids({"noop": [noop.pid]})
    rounds: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for n in range(1, ROUNDS + 1):
        round_opts = replace(
            opts, seconds=opts.seconds / 2, warmup_s=opts.warmup_s if n == 1 else 0
        )
        baseline = await _load(noop_url, round_opts, stack.intake_token, f"noop #{n}", noop_roles)
        measured = await _load(
            intake_url, round_opts, stack.intake_token, f"intake #{n}", {"intake": [proc.pid]}
        )
        rounds.append((baseline, measured))
    results["noop"] = _median_run([b for b, _ in rounds])
    results["noop"]["rss_kb"] = memory_kb(noop.pid)
    results["isolated"] = _median_run([m for _, m in rounds])
    results["isolated"]["rss_kb"] = memory_kb(proc.pid)
    results["isolated"]["topic"] = SINK_TOPIC
    ratios = [ratio(m.get("rps", 0.0), b.get("rps", 0.0)) or 0.0 for b, m in rounds]
    results["rounds"] = [
        {"noop_rps": b.get("rps"), "intake_rps": m.get("rps"), "ratio": r}
        for (b, m), r in zip(rounds, ratios, strict=True)
    ]
    results["ratio"] = statistics.median(ratios)
    noop.stop()
    proc.stop()


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(sorted(runs, key=lambda r: float(r.get("rps", 0.0)))[len(runs) // 2])


async def run(stack: Stack, opts: IntakeOptions, kids: Children) -> dict[str, Any]:
    if not await wait_http(f"{stack.intake_url}/readyz", 10):
        return {"skipped": f"intake not ready at {stack.intake_url}/readyz"}
    status = await asyncio.to_thread(
        _post_one, f"{stack.intake_url}{CHAT_PATH}", stack.intake_token, f"{opts.run_id}-probe"
    )
    if status != 202:
        return {"skipped": f"intake answered {status} to a valid chat message"}
    tool = "wrk" if loadgen.ensure_wrk() else "python"
    results: dict[str, Any] = {
        "tool": tool,
        "threads": opts.threads if tool == "wrk" else 1,
        "connections": opts.connections,
        "seconds": opts.seconds,
        "path": CHAT_PATH,
        "target_ratio": TARGET_RATIO,
    }
    await ensure_topics(stack.bootstrap, [SINK_TOPIC], SINK_PARTITIONS)
    results["settled_s"] = await _settle()
    print(f"intake: {tool} -c{opts.connections} for {opts.seconds:g}s each", flush=True)

    await _paired(stack, opts, kids, results)
    rps = {k: results[k].get("rps", 0.0) for k in ("noop", "isolated")}
    results["meets_target"] = (results.get("ratio") or 0) >= TARGET_RATIO
    if opts.extra_processes > 0:
        results["reuseport"] = await _reuseport(stack, opts, kids, rps)

    # Last: what the stack's intake accepts, the router and the SLA service then work off.
    intake_url = f"{stack.intake_url}{CHAT_PATH}"
    results["intake"] = await _load(
        intake_url, opts, stack.intake_token, "intake (stack)", service_pids()
    )
    results["ratio_stack"] = ratio(results["intake"]["rps"], rps["noop"])
    return results


async def _reuseport(
    stack: Stack, opts: IntakeOptions, kids: Children, rps: dict[str, float]
) -> dict[str, Any]:
    n = opts.extra_processes
    port = free_port(18081)
    env = _intake_env(stack, port, reuse_port=True)
    cli = str(ROOT / ".venv" / "bin" / "switchboard")
    procs = [kids.start(f"intake-{port}-{i}", [cli, "intake"], env) for i in range(n)]
    pids = [p.pid for p in procs]
    if not await _wait_reuseport(f"http://127.0.0.1:{port}/readyz", pids, 30):
        tails = "\n".join(p.log_tail() for p in procs)
        return {"skipped": f"{n} intake processes on :{port} did not become ready:\n{tails}"}
    out: dict[str, Any] = {"processes": n, "port": port}
    url = f"http://127.0.0.1:{port}{CHAT_PATH}"
    out["intake"] = await _load(
        url, opts, stack.intake_token, f"intake x{n} :{port}", service_pids({"intake_extra": pids})
    )
    out["rss_kb"] = [memory_kb(p) for p in pids]
    for proc in procs:
        proc.stop()
    scaled = out["intake"]["rps"]
    out["vs_single_intake"] = ratio(scaled, rps["isolated"])
    out["ratio_vs_noop"] = ratio(scaled, rps["noop"])
    if opts.noop_reuseport:
        nport = free_port(18091)
        argv = [PYTHON, "-m", "bench.noop_server", "--port", str(nport), "--reuse-port"]
        noops = [kids.start(f"noop-{nport}-{i}", argv) for i in range(n)]
        npids = [p.pid for p in noops]
        if await _wait_reuseport(f"http://127.0.0.1:{nport}/healthz", npids, 15):
            out["noop"] = await _load(
                f"http://127.0.0.1:{nport}{CHAT_PATH}",
                opts,
                stack.intake_token,
                f"noop x{n} :{nport}",
                service_pids({"noop": npids}),
            )
            out["ratio"] = ratio(scaled, out["noop"]["rps"])
        for proc in noops:
            proc.stop()
    return out
