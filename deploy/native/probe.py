"""Readiness probes for the native stack, over the real protocols, with a deadline.

    probe.py kafka BOOTSTRAP [--timeout S] [--pid PID]
    probe.py postgres DSN [--timeout S] [--pid PID]
    probe.py http URL [--timeout S] [--pid PID]

Exit 0 once ready; 1 on the deadline or when the watched process (--pid) exits first, with the
last error on stderr. Run with the project's virtual environment (aiokafka, asyncpg).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable


async def kafka_ready(bootstrap: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        if not cluster.get("brokers"):
            raise RuntimeError("metadata lists no broker yet")
        if cluster.get("controller_id", -1) < 0:
            raise RuntimeError("no active controller yet")
        await admin.list_topics()
    finally:
        await admin.close()


async def postgres_ready(dsn: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


async def http_ready(url: str) -> None:
    def get() -> None:
        with urllib.request.urlopen(url, timeout=3) as resp:  # noqa: S310 - loopback URL we built
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}")

    try:
        await asyncio.to_thread(get)
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"HTTP {exc.code}") from None


def process_exited(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    # A zombie child of someone else still answers kill(0); look at its state.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


async def wait(
    what: str, check: Callable[[], Awaitable[None]], limit_s: float, pid: int | None
) -> int:
    deadline = time.monotonic() + limit_s
    last = "not tried"
    while True:
        if process_exited(pid):
            print(f"{what}: process {pid} exited before it was ready ({last})", file=sys.stderr)
            return 1
        try:
            await asyncio.wait_for(check(), timeout=max(1.0, deadline - time.monotonic()))
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last = f"{type(exc).__name__}: {exc}".strip()
        else:
            return 0
        if time.monotonic() >= deadline:
            print(f"{what}: not ready after {limit_s:.0f}s ({last})", file=sys.stderr)
            return 1
        await asyncio.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["kafka", "postgres", "http"])
    parser.add_argument("target")
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--pid", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    checks: dict[str, Callable[[], Awaitable[None]]] = {
        "kafka": lambda: kafka_ready(args.target),
        "postgres": lambda: postgres_ready(args.target),
        "http": lambda: http_ready(args.target),
    }
    return asyncio.run(wait(args.kind, checks[args.kind], args.timeout, args.pid))


if __name__ == "__main__":
    sys.exit(main())
