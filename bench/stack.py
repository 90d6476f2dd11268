"""The running stack as the bench sees it: addresses and tokens, pids, memory and CPU time."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"
SERVICES = ("intake", "router", "sla")
_TICK = os.sysconf("SC_CLK_TCK")


class StackError(Exception):
    """The stack is not there; the message says what to run."""


@dataclass(frozen=True)
class Stack:
    intake_url: str
    router_url: str
    sla_url: str
    bootstrap: str
    database_url: str
    intake_token: str
    agent_token: str
    source: str


def _read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = value.strip()
    return values


def load_stack(run_dir: Path = RUN_DIR) -> Stack:
    """``.run/stack.env`` (written by ``make up``); while a service cannot start, the pieces
    ``make infra`` leaves (``infra.env``, ``secrets.env``) with the default ports."""
    stack_env = run_dir / "stack.env"
    if stack_env.is_file():
        env, source = _read_env(stack_env), str(stack_env)
    else:
        parts = [run_dir / "infra.env", run_dir / "secrets.env"]
        if not all(p.is_file() for p in parts):
            raise StackError(f"{stack_env} is missing: run 'make up' first")
        env = {k: v for p in parts for k, v in _read_env(p).items()}
        env.setdefault("INTAKE_URL", "http://127.0.0.1:8081")
        env.setdefault("ROUTER_URL", "http://127.0.0.1:8082")
        env.setdefault("SLA_URL", "http://127.0.0.1:8083")
        source = "infra.env + secrets.env (no stack.env: 'make up' has not completed)"
    try:
        return Stack(
            intake_url=env["INTAKE_URL"],
            router_url=env["ROUTER_URL"],
            sla_url=env["SLA_URL"],
            bootstrap=env["KAFKA_BOOTSTRAP_SERVERS"],
            database_url=env["DATABASE_URL"],
            intake_token=env["INTAKE_TOKEN"],
            agent_token=env["AGENT_TOKEN"],
            source=source,
        )
    except KeyError as exc:
        raise StackError(f"{source} lacks {exc.args[0]}") from None


def service_pid(name: str, run_dir: Path = RUN_DIR) -> int | None:
    """The pid in ``.run/pids/<name>.pid`` when that process is alive."""
    try:
        pid = int((run_dir / "pids" / f"{name}.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def postgres_pids() -> list[int]:
    """Every process named ``postgres`` (postmaster and backends) on this machine."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) in kB from ``/proc/<pid>/status``; empty once it is gone."""
    found: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    except OSError:
        return {}
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def service_pids(extra: dict[str, list[int]] | None = None) -> dict[str, list[int]]:
    """The stack's processes by role, plus the bench's own children under their roles."""
    pids: dict[str, list[int]] = {}
    for name in (*SERVICES, "kafka"):
        pid = service_pid(name)
        if pid is not None:
            pids[name] = [pid]
    pids["postgres"] = postgres_pids()
    for role, more in (extra or {}).items():
        pids[role] = [*pids.get(role, []), *more]
    return pids


class CpuMeter:
    """Cores used by each role between ``start()`` and ``stop()`` (1.0 = one core busy).

    A process that exits meanwhile (a PostgreSQL backend) takes its CPU time with it: roles are
    a lower bound, and ``other`` (the rest of the machine's busy time) absorbs the difference."""

    def __init__(self, roles: dict[str, list[int]]) -> None:
        self._roles = roles
        self._before: dict[int, float] = {}
        self._bench = 0.0
        self._started = 0.0
        self._children = 0.0
        self._busy = 0.0

    @staticmethod
    def _machine_busy() -> float:
        """CPU seconds all cores spent outside idle and iowait since boot."""
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return (sum(fields[:8]) - fields[3] - fields[4]) / _TICK

    @staticmethod
    def _children_cpu() -> float:
        usage = os.times()
        return usage.children_user + usage.children_system

    def start(self) -> None:
        self._before = {p: cpu_seconds(p) for pids in self._roles.values() for p in pids}
        self._bench = sum(os.times()[:2])
        self._children = self._children_cpu()
        self._busy = self._machine_busy()
        self._started = time.monotonic()

    def stop(self, children_role: str | None = None) -> dict[str, float]:
        """Cores per role; ``children_role`` gets the CPU of the bench's children reaped
        meanwhile (wrk, a finished child process), which only ``os.times()`` still knows."""
        elapsed = max(time.monotonic() - self._started, 1e-9)
        cores: dict[str, float] = {}
        for role, pids in self._roles.items():
            used = 0.0
            for pid in pids:
                now = cpu_seconds(pid)
                if now:
                    used += max(now - self._before.get(pid, 0.0), 0.0)
            cores[role] = round(used / elapsed, 2)
        cores["bench"] = round((sum(os.times()[:2]) - self._bench) / elapsed, 2)
        if children_role:
            reaped = (self._children_cpu() - self._children) / elapsed
            cores[children_role] = round(cores.get(children_role, 0.0) + reaped, 2)
        busy = (self._machine_busy() - self._busy) / elapsed
        # Everything else on the machine (other users' jobs): large values make a run noisy.
        cores["other"] = round(max(busy - sum(cores.values()), 0.0), 2)
        cores["machine_busy"] = round(busy, 2)
        return cores


async def wait_http(url: str, timeout_s: float = 30.0, *, expect: int = 200) -> bool:
    """Poll ``url`` until it answers ``expect`` or the time is up."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if resp.status == expect:
                        return True
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.2)
    return False


def machine() -> dict[str, object]:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.partition(":")[2].strip()
            break
    return {
        "cpus": os.cpu_count(),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "cpu_model": model,
        "memory_gb": round(total_kb / 1024 / 1024, 1),
        "kernel": os.uname().release,
    }
