"""Closed-loop HTTP load: wrk with ``bench/wrk/chat.lua`` or, without wrk, the same requests
from Python. A service and its baseline are always measured with the same tool and settings."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass

import aiohttp

from bench.stack import ROOT
from bench.stats import percentile

CHAT_LUA = ROOT / "bench" / "wrk" / "chat.lua"

# Same texts and locales as bench/wrk/chat.lua.
TEXTS = (
    ("I topped up 200 yuan an hour ago but my balance has not changed", "en"),
    ("my phone was stolen yesterday please freeze my wallet", "en"),
    ("payment failed but the money was debited from my card", "en"),
    ("how do I change the phone number bound to my account", "en"),
    ("我的账户被锁定了，输错了三次密码", "zh-CN"),
    ("提现失败了，钱什么时候退回来？", "zh-CN"),
    ("the app crashes every time I open the scan page", "en"),
    ("请问积分可以兑换什么？", "zh-CN"),
)


def chat_message(run_id: str, worker: int, counter: int) -> dict[str, str]:
    """The message chat.lua sends as request ``counter`` of thread ``worker``."""
    text, locale = TEXTS[counter % len(TEXTS)]
    return {
        "session_id": f"bench-{run_id}-{worker}-{counter}",
        "message_id": f"m-{counter}",
        "customer_id": f"bc-{worker}-{counter % 5000}",
        "text": text,
        "locale": locale,
    }


@dataclass
class LoadResult:
    tool: str
    url: str
    seconds: float
    connections: int
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def wrk_path() -> str | None:
    return shutil.which("wrk")


def ensure_wrk() -> str | None:
    """wrk, installed from Debian's packages when missing and we are root; else None."""
    found = wrk_path()
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        if subprocess.run(argv, env=env, capture_output=True, check=False).returncode != 0:
            return None
    return wrk_path()


def run_wrk(
    url: str, *, seconds: float, threads: int, connections: int, token: str, run_id: str
) -> LoadResult:
    argv = [
        wrk_path() or "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(int(seconds), 1)}s",
        "--timeout",
        "10s",
        "-s",
        str(CHAT_LUA),
        url,
    ]
    env = {**os.environ, "BENCH_TOKEN": token, "BENCH_RUN": run_id}
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, check=False, timeout=seconds + 60
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(data[k] for k in data if k.endswith("_errors"))
    duration = data["duration_us"] / 1e6
    return LoadResult(
        tool="wrk",
        url=url,
        seconds=round(duration, 2),
        connections=connections,
        requests=data["requests"],
        errors=errors,
        rps=round((data["requests"] - data["status_errors"]) / duration, 1),
        p50_ms=round(data["p50_us"] / 1000, 2),
        p90_ms=round(data["p90_us"] / 1000, 2),
        p99_ms=round(data["p99_us"] / 1000, 2),
        max_ms=round(data["max_us"] / 1000, 2),
    )


async def run_python(
    url: str, *, seconds: float, connections: int, token: str, run_id: str
) -> LoadResult:
    """The fallback: ``connections`` keep-alive workers, each posting as soon as it got an answer."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def worker(session: aiohttp.ClientSession, number: int) -> None:
        nonlocal errors
        counter = 0
        while time.monotonic() < deadline:
            counter += 1
            body = json.dumps(chat_message(run_id, number, counter)).encode()
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status >= 400:
                        errors += 1
                        continue
            except (aiohttp.ClientError, TimeoutError):
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=connections)
    started = time.monotonic()
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=10)
    ) as session:
        await asyncio.gather(*(worker(session, n + 1) for n in range(connections)))
    elapsed = time.monotonic() - started

    def ms(q: float) -> float:
        return round((percentile(latencies, q) or 0.0) * 1000, 2)

    return LoadResult(
        tool="python",
        url=url,
        seconds=round(elapsed, 2),
        connections=connections,
        requests=len(latencies) + errors,
        errors=errors,
        rps=round(len(latencies) / elapsed, 1),
        p50_ms=ms(50),
        p90_ms=ms(90),
        p99_ms=ms(99),
        max_ms=round(max(latencies, default=0.0) * 1000, 2),
    )
