"""Every metric the dashboards and alert rules use is on the running services' /metrics.

The list is tests/unit/deploy/metrics_catalog.EXPORTED (the unit tests check deploy/ against it).
A labelled metric only has samples once something incremented it, so a metric counts as present
when its `# TYPE` line is there; two chat messages are posted and routed first so that the
intake's and router's per-message series exist.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import aiohttp
import pytest

from tests.unit.deploy.metrics_catalog import BY_NAME, EXPORTED, Metric

ROUTE_WAIT_S = 45.0
LAG_WAIT_S = 30.0

_TYPE = re.compile(r"^# TYPE (\S+) (\S+)$", re.M)
_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+", re.M)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class Exposition:
    def __init__(self, text: str) -> None:
        self.types = dict(_TYPE.findall(text))
        self.samples: list[tuple[str, dict[str, str]]] = []
        for match in _SAMPLE.finditer(text):
            labels = dict(_LABEL.findall(match.group(2) or ""))
            self.samples.append((match.group(1), labels))

    def has(self, name: str, **labels: str) -> bool:
        return any(
            n == name and all(got.get(k) == v for k, v in labels.items()) for n, got in self.samples
        )


async def _metrics(session: aiohttp.ClientSession, base_url: str) -> Exposition:
    async with session.get(f"{base_url}/metrics") as resp:
        assert resp.status == 200, f"GET {base_url}/metrics: {resp.status}"
        return Exposition(await resp.text())


async def _post_and_route(session: aiohttp.ClientSession, env: dict[str, str]) -> None:
    texts = ["my wallet was stolen, please freeze my account", "how do I top up my balance?"]
    message_ids = []
    for text in texts:
        async with session.post(
            f"{env['INTAKE_URL']}/v1/inbound/chat",
            json={"session_id": f"e2e-metrics-{uuid.uuid4()}", "text": text},
            headers={"Authorization": f"Bearer {env['INTAKE_TOKEN']}"},
        ) as resp:
            assert resp.status == 202, await resp.text()
            message_ids.append((await resp.json())["message_id"])
    deadline = time.monotonic() + ROUTE_WAIT_S
    for message_id in message_ids:
        while True:
            async with session.get(
                f"{env['ROUTER_URL']}/v1/tickets",
                params={"message_id": message_id},
                headers={"Authorization": f"Bearer {env['AGENT_TOKEN']}"},
            ) as resp:
                if resp.status == 200:
                    break
            assert time.monotonic() < deadline, f"message {message_id} not routed in time"
            await asyncio.sleep(0.5)


@pytest.fixture(scope="module")
async def expositions(stack_env: dict[str, str]) -> dict[str, Exposition]:
    urls = {
        "intake": stack_env["INTAKE_URL"],
        "router": stack_env["ROUTER_URL"],
        "sla": stack_env["SLA_URL"],
    }
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await _post_and_route(session, stack_env)
        # The consumers set their lag gauges after they poll; give them a bounded moment.
        deadline = time.monotonic() + LAG_WAIT_S
        while True:
            scraped = {svc: await _metrics(session, url) for svc, url in urls.items()}
            lag_ready = scraped["router"].has(
                "switchboard_consumer_lag_messages", group="router"
            ) and scraped["sla"].has("switchboard_consumer_lag_messages", group="sla")
            if lag_ready or time.monotonic() > deadline:
                return scraped
            await asyncio.sleep(1)


PAIRS = [(service, metric) for metric in EXPORTED for service in metric.services]


@pytest.mark.parametrize(("service", "metric"), PAIRS, ids=[f"{svc}-{m.name}" for svc, m in PAIRS])
async def test_service_exports_metric(
    expositions: dict[str, Exposition], service: str, metric: Metric
) -> None:
    exposition = expositions[service]
    assert metric.name in exposition.types, f"{service} /metrics has no # TYPE {metric.name}"
    assert exposition.types[metric.name] == metric.type, (
        f"{metric.name} is a {exposition.types[metric.name]}, expected {metric.type}"
    )
    allowed = set(metric.labels)
    for name, labels in exposition.samples:
        if name in metric.series_names():
            extra = set(labels) - allowed - {"le"}
            assert not extra, f"{name} on {service} carries unexpected labels {sorted(extra)}"


async def test_every_catalogued_name_is_exported_somewhere(
    expositions: dict[str, Exposition],
) -> None:
    exported: set[str] = set()
    for exposition in expositions.values():
        for name, kind in exposition.types.items():
            exported.add(name)
            if kind == "histogram":
                exported |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    missing = sorted(n for n in BY_NAME if n != "up" and n not in exported)
    assert not missing, f"used by deploy/ but exported by no service: {missing}"


async def test_posted_messages_show_up(expositions: dict[str, Exposition]) -> None:
    assert expositions["intake"].has(
        "switchboard_intake_messages_total", channel="chat", outcome="accepted"
    )
    assert expositions["router"].has("switchboard_router_messages_total", outcome="routed")
    assert expositions["router"].has("switchboard_router_routed_total", channel="chat")


async def test_consumer_lag_carries_group_and_topic(expositions: dict[str, Exposition]) -> None:
    assert expositions["router"].has(
        "switchboard_consumer_lag_messages", group="router", topic="inbound.messages.v1"
    )
    for topic in ("tickets.routed.v1", "tickets.lifecycle.v1"):
        assert expositions["sla"].has("switchboard_consumer_lag_messages", group="sla", topic=topic)
