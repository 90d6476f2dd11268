"""Debian's Prometheus against the running stack: the series arrive and the alerts fire.

deploy/native/prometheus.sh starts a second Prometheus for this module (its own port, state in
.run/prometheus-e2e) with the native scrape configuration at a 1 s interval and a variant of
deploy/prometheus/rules with short windows: every range and offset becomes 20 s and `for` is
dropped, the thresholds stay. The test then produces the conditions (a garbage record on
inbound.messages.v1 that the router dead-letters; posts with a wrong token) and waits, bounded,
for the alerts in /api/v1/alerts. Prometheus is stopped at the end.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
import yaml
from aiokafka import AIOKafkaProducer

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "native" / "prometheus.sh"
PROM = ROOT / "deploy" / "prometheus"
STATE = ROOT / ".run" / "prometheus-e2e"
JOBS = ("intake", "router", "sla")
FAST_WINDOW = "20s"
WAIT_S = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fast_rules(rules: dict[str, Any]) -> dict[str, Any]:
    """The same alerts with every range/offset shortened and no pending period."""
    for group in rules["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            rule.pop("for", None)
            expr = re.sub(r"\[\d+[smhdw]\]", f"[{FAST_WINDOW}]", rule["expr"])
            rule["expr"] = re.sub(r"offset \d+[smhdw]", f"offset {FAST_WINDOW}", expr)
    return rules


def _config(stack_env: dict[str, str], listen: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(
        (PROM / "prometheus-native.yml").read_text(encoding="utf-8")
    )
    config["global"].update(scrape_interval="1s", evaluation_interval="1s", scrape_timeout="1s")
    urls = {"intake": "INTAKE_URL", "router": "ROUTER_URL", "sla": "SLA_URL"}
    for job in config["scrape_configs"]:
        if job["job_name"] in urls:
            target = urlsplit(stack_env[urls[job["job_name"]]]).netloc
        else:
            target = listen
        job["static_configs"] = [{"targets": [target]}]
    config["rule_files"] = ["rules-fast/*.yml"]
    return config


def _script(action: str, env: dict[str, str]) -> None:
    proc = subprocess.run(
        [str(SCRIPT), action],
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"prometheus.sh {action} failed:\n{proc.stdout}{proc.stderr}"


@pytest.fixture(scope="module")
def prometheus(stack_env: dict[str, str]) -> Iterator[str]:
    listen = f"127.0.0.1:{_free_port()}"
    env = {
        "PROMETHEUS_NAME": "prometheus-e2e",
        "PROMETHEUS_DIR": str(STATE),
        "PROMETHEUS_LISTEN": listen,
        "PROMETHEUS_CONFIG": str(STATE / "prometheus.yml"),
        "PROMETHEUS_RETENTION": "1d",
    }
    _script("stop", env)  # one left over from an interrupted run
    shutil.rmtree(STATE, ignore_errors=True)
    (STATE / "rules-fast").mkdir(parents=True)
    for path in sorted((PROM / "rules").glob("*.yml")):
        rules = fast_rules(yaml.safe_load(path.read_text(encoding="utf-8")))
        (STATE / "rules-fast" / path.name).write_text(yaml.safe_dump(rules, sort_keys=False))
    (STATE / "prometheus.yml").write_text(
        yaml.safe_dump(_config(stack_env, listen), sort_keys=False)
    )
    _script("start", env)
    try:
        yield f"http://{listen}"
    finally:
        _script("stop", env)


async def _query(session: aiohttp.ClientSession, base: str, promql: str) -> list[dict[str, Any]]:
    async with session.get(f"{base}/api/v1/query", params={"query": promql}) as resp:
        body = await resp.json()
        assert resp.status == 200 and body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result


async def _alerts(session: aiohttp.ClientSession, base: str) -> list[dict[str, Any]]:
    async with session.get(f"{base}/api/v1/alerts") as resp:
        body = await resp.json()
        assert resp.status == 200 and body["status"] == "success", body
        alerts: list[dict[str, Any]] = body["data"]["alerts"]
        return alerts


def _firing(alerts: list[dict[str, Any]], name: str, **labels: str) -> bool:
    return any(
        a["labels"].get("alertname") == name
        and a["state"] == "firing"
        and all(a["labels"].get(k) == v for k, v in labels.items())
        for a in alerts
    )


def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))


async def _wait_for_up(session: aiohttp.ClientSession, base: str) -> dict[str, str]:
    deadline = time.monotonic() + WAIT_S
    while True:
        up = {r["metric"]["job"]: r["value"][1] for r in await _query(session, base, "up")}
        if all(up.get(job) == "1" for job in JOBS) or time.monotonic() > deadline:
            return up
        await asyncio.sleep(1)


def test_fast_rules_shorten_windows_and_keep_thresholds() -> None:
    rules = fast_rules(
        {
            "groups": [
                {
                    "name": "g",
                    "rules": [{"alert": "A", "for": "10m", "expr": "x[5m] offset 15m > 3"}],
                }
            ]
        }
    )
    (rule,) = rules["groups"][0]["rules"]
    assert "for" not in rule
    assert rule["expr"] == f"x[{FAST_WINDOW}] offset {FAST_WINDOW} > 3"


async def test_services_are_scraped(prometheus: str) -> None:
    async with _session() as session:
        up = await _wait_for_up(session, prometheus)
        assert {job: up.get(job) for job in JOBS} == dict.fromkeys(JOBS, "1")
        for promql in (
            'switchboard_http_request_duration_seconds_count{job="intake"}',
            'process_cpu_seconds_total{job="router"}',
            'process_cpu_seconds_total{job="sla"}',
        ):
            assert await _query(session, prometheus, promql), f"no series for {promql}"


async def test_rules_are_loaded_and_evaluate(prometheus: str) -> None:
    expected = {
        rule["alert"]
        for path in (PROM / "rules").glob("*.yml")
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    async with _session() as session:
        deadline = time.monotonic() + WAIT_S
        while True:
            async with session.get(f"{prometheus}/api/v1/rules") as resp:
                groups = (await resp.json())["data"]["groups"]
            rules = {r["name"]: r for g in groups for r in g["rules"]}
            evaluated = all(r.get("lastEvaluation", "").startswith("2") for r in rules.values())
            if (rules.keys() >= expected and evaluated) or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
    assert rules.keys() >= expected
    broken = {name: r.get("lastError") for name, r in rules.items() if r.get("health") != "ok"}
    assert not broken, broken


async def test_no_service_down_alert_while_the_stack_runs(prometheus: str) -> None:
    async with _session() as session:
        await _wait_for_up(session, prometheus)
        await asyncio.sleep(3)  # a few evaluations with no pending period
        alerts = await _alerts(session, prometheus)
    for job in JOBS:
        assert not _firing(alerts, "SwitchboardServiceDown", job=job)
        assert not _firing(alerts, "SwitchboardServiceAbsent", job=job)


async def test_dead_letter_alert_fires(prometheus: str, stack_env: dict[str, str]) -> None:
    counter = 'sum(switchboard_dead_letters_total{job="router", group="router"})'
    async with _session() as session:
        await _wait_for_up(session, prometheus)
        before = await _query(session, prometheus, counter)
        before_value = float(before[0]["value"][1]) if before else 0.0

        producer = AIOKafkaProducer(
            bootstrap_servers=stack_env["KAFKA_BOOTSTRAP_SERVERS"], acks="all"
        )
        await producer.start()
        try:
            for i in range(3):  # spread over scrapes so that rate() sees an increment
                await producer.send_and_wait(
                    "inbound.messages.v1", b"\xff\xfe not json {", key=b"e2e-garbage-%d" % i
                )
                await asyncio.sleep(1.5)
        finally:
            await producer.stop()

        deadline = time.monotonic() + WAIT_S
        while True:
            alerts = await _alerts(session, prometheus)
            if _firing(alerts, "SwitchboardDeadLetters", group="router"):
                break
            assert time.monotonic() < deadline, f"SwitchboardDeadLetters did not fire: {alerts}"
            await asyncio.sleep(1)
        after = await _query(session, prometheus, counter)
        assert after and float(after[0]["value"][1]) > before_value


async def test_intake_auth_failure_alert_fires(prometheus: str, stack_env: dict[str, str]) -> None:
    url = f"{stack_env['INTAKE_URL']}/v1/inbound/chat"
    body = {"session_id": "e2e-prometheus-auth", "text": "hello"}
    async with _session() as session:
        await _wait_for_up(session, prometheus)
        deadline = time.monotonic() + WAIT_S
        while True:
            # Keep the condition up while waiting: a rejected post every half second.
            async with session.post(
                url, json=body, headers={"Authorization": "Bearer not-a-valid-token"}
            ) as resp:
                assert resp.status == 401
            alerts = await _alerts(session, prometheus)
            if _firing(alerts, "SwitchboardIntakeAuthFailures", channel="chat"):
                break
            assert time.monotonic() < deadline, (
                f"SwitchboardIntakeAuthFailures did not fire: {alerts}"
            )
            await asyncio.sleep(0.5)
        rejected = await _query(
            session,
            prometheus,
            'switchboard_intake_messages_total{job="intake", channel="chat", outcome="unauthorized"}',
        )
        assert rejected
