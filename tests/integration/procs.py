"""Helpers for integration tests that start, stop and kill service processes of the native stack.

Extra service processes run ``.venv/bin/switchboard <service>`` with the stack's settings
(`.run/stack.env`) and their own HTTP port. They are started with the *relative* path of the
command on purpose: `deploy/native/services.sh` finds a lost stack service by the absolute
command line (``/…/.venv/bin/switchboard sla``), and must never mistake a test replica for it.

Every wait here has a deadline; every process started here is stopped by its own pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

ROOT = Path(__file__).resolve().parents[2]
NATIVE = ROOT / "deploy" / "native"
CLI = ".venv/bin/switchboard"  # relative to ROOT, see the module docstring
LOG_DIR = ROOT / ".run" / "logs"

# Settings of the environment a test replica must not inherit from the test runner's shell.
_OWN_SETTINGS = (
    "HTTP_PORT",
    "HTTP_HOST",
    "SLA_POLICY",
    "ROUTER_RULES",
    "INTAKE_TOKENS",
    "INTAKE_TOKENS_FILE",
    "AGENT_TOKENS",
    "HTTP_REUSE_PORT",
)


class ProcessFailed(AssertionError):
    """A process did not become ready, or a stack script failed; carries the end of its log."""


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def service_env(stack_env: Mapping[str, str], port: int, **extra: str) -> dict[str, str]:
    """Environment for one extra service process: the stack's Kafka, database and tokens."""
    env = {k: v for k, v in os.environ.items() if k not in _OWN_SETTINGS}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=stack_env["KAFKA_BOOTSTRAP_SERVERS"],
        DATABASE_URL=stack_env["DATABASE_URL"],
        INTAKE_TOKENS=f"{stack_env['INTAKE_TOKEN']}=*",
        AGENT_TOKENS=stack_env["AGENT_TOKEN"],
        HTTP_HOST="127.0.0.1",
        HTTP_PORT=str(port),
        LOG_LEVEL=env.get("LOG_LEVEL", "INFO"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass
class ServiceProcess:
    """One ``switchboard <service>`` process owned by a test."""

    service: str
    port: int
    env: dict[str, str]
    name: str = ""
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    starts: int = 0

    def __post_init__(self) -> None:
        self.name = self.name or f"test-{self.service}-{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return LOG_DIR / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        if self.alive():
            raise RuntimeError(f"{self.name} already runs (pid {self.pid})")
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts} of {self.name} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [CLI, self.service],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def wait_ready(self, timeout: float = 60.0) -> float:
        """Seconds until GET /readyz answered 200; fails early if the process exits."""
        started = time.monotonic()
        deadline = started + timeout
        last = "no answer yet"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
            while time.monotonic() < deadline:
                if not self.alive():
                    code = self.proc.returncode if self.proc else None
                    raise ProcessFailed(
                        f"{self.name} exited (code {code}) before it was ready:\n{tail(self.log_path)}"
                    )
                try:
                    async with session.get(f"{self.url}/readyz") as resp:
                        if resp.status == 200:
                            return time.monotonic() - started
                        last = f"HTTP {resp.status}: {await resp.text()}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    last = repr(exc)
                await asyncio.sleep(0.25)
        raise ProcessFailed(
            f"{self.name} not ready within {timeout}s ({last}):\n{tail(self.log_path)}"
        )

    async def _wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return True
            await asyncio.sleep(0.1)
        return not self.alive()

    async def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, no offsets are committed."""
        if self.proc is None:
            return
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        if not await self._wait_exit(10):
            raise ProcessFailed(f"{self.name} (pid {self.pid}) survived SIGKILL for 10s")

    async def stop(self, timeout: float = 25.0) -> int | None:
        """SIGTERM and wait for the graceful shutdown; SIGKILL after ``timeout``."""
        if self.proc is None:
            return None
        if self.alive():
            os.kill(self.proc.pid, signal.SIGTERM)
            if not await self._wait_exit(timeout):
                await self.kill()
        return self.proc.returncode


@contextlib.asynccontextmanager
async def owned(processes: Iterable[ServiceProcess]) -> AsyncIterator[list[ServiceProcess]]:
    """Stop every process on the way out, whatever happened inside."""
    procs = list(processes)
    try:
        yield procs
    finally:
        for p in procs:
            with contextlib.suppress(Exception):
                await p.stop(timeout=15)


async def run_native(*args: str, timeout: float = 180.0) -> str:
    """Run a `deploy/native` script (e.g. ``"kafka.sh", "stop"``); its output, or a failure."""
    proc = await asyncio.create_subprocess_exec(
        str(NATIVE / args[0]),
        *args[1:],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "QUIET": "1"},
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ProcessFailed(
            f"deploy/native/{' '.join(args)} did not finish in {timeout}s"
        ) from None
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise ProcessFailed(f"deploy/native/{' '.join(args)} failed ({proc.returncode}):\n{text}")
    return text


async def wait_ready(url: str, timeout: float) -> float:
    """Seconds until GET ``url`` answered 200 (e.g. a stack service's /readyz)."""
    started = time.monotonic()
    deadline = started + timeout
    last = "no answer yet"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return time.monotonic() - started
                    last = f"HTTP {resp.status}: {await resp.text()}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = repr(exc)
            await asyncio.sleep(0.5)
    raise ProcessFailed(f"{url} not 200 within {timeout}s ({last})")


# --- Kafka ---------------------------------------------------------------------------------------


async def produce(bootstrap: str, records: Iterable[tuple[str, bytes, bytes]]) -> None:
    """Send (topic, key, value) records with acks=all and wait for every acknowledgement."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(t, key=k, value=v) for t, k, v in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    """Every partition of ``topic``, asked from the broker (not from a client's cache)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"] != 0 or not described["partitions"]:
        raise AssertionError(f"topic {topic}: error {described['error_code']} or no partitions")
    return [TopicPartition(topic, p["partition"]) for p in described["partitions"]]


async def end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    """The next offset of every partition of ``topic`` (where records produced now will land)."""
    tps = await partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


Records = list[ConsumerRecord]  # ConsumerRecord[bytes, bytes]


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    start: Mapping[TopicPartition, int] | None,
    done: Callable[[Records], bool],
    timeout: float,
    settle_s: float = 0.0,
) -> Records:
    """Records of ``topic`` from ``start`` (None: the beginning) until ``done(records)``.

    No consumer group: partitions are assigned, nothing is committed. After ``done`` the reader
    keeps reading for ``settle_s`` more seconds (to see late duplicates). Raises on the deadline
    with what it has read so far in the message.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    records: Records = []
    try:
        if start is None:
            tps = await partitions(bootstrap, topic)
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
        else:
            assert start, "no partitions to read"
            consumer.assign(list(start))
            for tp, offset in start.items():
                consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout
        settled_at: float | None = None
        while True:
            now = time.monotonic()
            if settled_at is None and done(records):
                settled_at = now + settle_s
            if settled_at is not None and now >= settled_at:
                return records
            if now >= deadline:
                raise AssertionError(
                    f"{topic}: condition not met within {timeout}s ({len(records)} records read)"
                )
            batches = await consumer.getmany(timeout_ms=300, max_records=2000)
            for part in batches.values():
                records.extend(part)
    finally:
        await consumer.stop()
