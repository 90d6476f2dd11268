"""Agents' side over HTTP: queues, claims in order and concurrently, capacity, lifecycle → SLA."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.e2e.helpers import auth, post_json, wait_for_ticket

pytestmark = pytest.mark.e2e
RANK = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}


async def _seed(dsn: str, group: str, priorities: list[str]) -> list[uuid.UUID]:
    """Waiting tickets straight into the store, so the queue's contents are known."""
    conn = await asyncpg.connect(dsn)
    ids = []
    try:
        base = datetime.now(UTC) - timedelta(minutes=30)
        for i, priority in enumerate(priorities):
            tid = uuid.uuid4()
            ids.append(tid)
            await conn.execute(
                """
                INSERT INTO tickets (ticket_id, conversation_key, status, channel, priority, skill_group,
                    intent, language, reasons, redacted, created_at, updated_at, waiting_since)
                VALUES ($1, $2, 'waiting', 'chat', $3, $4, 'test.seeded', 'en', '[]', false, $5, $5, $5)
                """,
                tid,
                f"test:{tid}",
                priority,
                group,
                base + timedelta(seconds=i),
            )
    finally:
        await conn.close()
    return ids


async def _claim(
    session: aiohttp.ClientSession, env: dict[str, str], group: str, agent: str
) -> tuple[int, Any]:
    async with session.post(
        f"{env['ROUTER_URL']}/v1/queues/{group}/claim",
        json={"agent_id": agent},
        headers=auth(env["AGENT_TOKEN"]),
    ) as resp:
        return resp.status, (await resp.json(content_type=None) if resp.status != 204 else None)


async def test_claims_follow_priority_then_age_and_never_collide(stack_env: dict[str, str]) -> None:
    group = "cards"
    seeded = await _seed(stack_env["DATABASE_URL"], group, ["P4", "P3", "P1", "P2", "P4", "P1"] * 4)
    async with aiohttp.ClientSession() as session:
        results = await asyncio.gather(
            *[_claim(session, stack_env, group, f"agent-{uuid.uuid4().hex[:6]}") for _ in range(40)]
        )
        claimed = [body for status, body in results if status == 200]
        assert all(status in (200, 204) for status, _ in results)
        ids = [c["ticket_id"] for c in claimed]
        assert len(ids) == len(set(ids)), "two agents received the same ticket"
        assert {str(s) for s in seeded} <= set(ids)
        # Sequential claims hand out P1 before anything lower, then by age.
        await _seed(stack_env["DATABASE_URL"], group, ["P3", "P4", "P1", "P2"])
        order = []
        while True:
            status, body = await _claim(session, stack_env, group, f"seq-{uuid.uuid4().hex[:6]}")
            if status == 204:
                break
            order.append(RANK[body["priority"]])
        assert order == sorted(order)
        assert order[:1] == [1]


async def test_agent_at_capacity_gets_409(stack_env: dict[str, str]) -> None:
    group = "refunds"
    await _seed(stack_env["DATABASE_URL"], group, ["P3"] * 7)
    agent = f"busy-{uuid.uuid4().hex[:6]}"
    async with aiohttp.ClientSession() as session:
        statuses = [(await _claim(session, stack_env, group, agent))[0] for _ in range(7)]
        assert statuses[:5] == [200] * 5
        assert statuses[5] == 409
        async with session.post(
            f"{stack_env['ROUTER_URL']}/v1/queues/{group}/claim",
            json={"agent": "x"},
            headers=auth(stack_env["AGENT_TOKEN"]),
        ) as resp:
            assert resp.status == 422
            assert (await resp.json(content_type=None))["field"]
        async with session.post(
            f"{stack_env['ROUTER_URL']}/v1/queues/nope/claim",
            json={"agent_id": "x"},
            headers=auth(stack_env["AGENT_TOKEN"]),
        ) as resp:
            assert resp.status == 404


async def test_queue_overview_and_listing(stack_env: dict[str, str]) -> None:
    await _seed(stack_env["DATABASE_URL"], "general", ["P4", "P2"])
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f"{stack_env['ROUTER_URL']}/v1/queues", headers=auth(stack_env["AGENT_TOKEN"])
        ) as resp:
            data = await resp.json()
        general = next(q for q in data["queues"] if q["skill_group"] == "general")
        assert general["waiting"]["P2"] >= 1 and general["oldest_wait_seconds"] > 0
        assert {q["skill_group"] for q in data["queues"]} >= {
            "security",
            "account",
            "payments",
            "funding",
        }
        async with session.get(
            f"{stack_env['ROUTER_URL']}/v1/queues/general", headers=auth(stack_env["AGENT_TOKEN"])
        ) as resp:
            listing = (await resp.json())["tickets"]
        keys = [(RANK[t["priority"]], t["waiting_since"]) for t in listing]
        assert keys == sorted(keys)


async def test_lifecycle_events_drive_the_sla_clocks(stack_env: dict[str, str]) -> None:
    run = uuid.uuid4().hex[:8]
    async with aiohttp.ClientSession() as session:
        status, data = await post_json(
            session,
            f"{stack_env['INTAKE_URL']}/v1/inbound/chat",
            stack_env["INTAKE_TOKEN"],
            {
                "session_id": f"life-{run}",
                "text": "Someone stole my phone and my wallet app is logged in",
            },
        )
        assert status == 202
        ticket = await wait_for_ticket(
            session, stack_env["ROUTER_URL"], stack_env["AGENT_TOKEN"], data["message_id"]
        )
        assert ticket["priority"] == "P1"
        tid = ticket["ticket_id"]
        sla = await _wait_sla(
            session, stack_env, tid, lambda d: d["clocks"]["first_response"]["state"] == "running"
        )
        fr = sla["clocks"]["first_response"]
        assert fr["target_seconds"] == 900
        created = datetime.fromisoformat(fr["started_at"])
        assert datetime.fromisoformat(fr["due_at"]) == created + timedelta(minutes=15)

        at = datetime.now(UTC).isoformat()
        async with session.post(
            f"{stack_env['ROUTER_URL']}/v1/tickets/{tid}/events",
            json={"type": "first_response", "agent_id": "a-1", "at": at},
            headers=auth(stack_env["AGENT_TOKEN"]),
        ) as resp:
            assert resp.status == 202
        sla = await _wait_sla(
            session, stack_env, tid, lambda d: d["clocks"]["first_response"]["state"] == "stopped"
        )
        assert sla["clocks"]["first_response"]["status"] == "met"
        assert sla["clocks"]["resolution"]["state"] == "running"

        async with session.post(
            f"{stack_env['ROUTER_URL']}/v1/tickets/{tid}/events",
            json={"type": "resolved", "agent_id": "a-1", "at": datetime.now(UTC).isoformat()},
            headers=auth(stack_env["AGENT_TOKEN"]),
        ) as resp:
            assert resp.status == 202
        sla = await _wait_sla(
            session, stack_env, tid, lambda d: d["clocks"]["resolution"]["state"] == "stopped"
        )
        async with session.get(
            f"{stack_env['ROUTER_URL']}/v1/tickets/{tid}", headers=auth(stack_env["AGENT_TOKEN"])
        ) as resp:
            assert (await resp.json())["status"] == "resolved"
        async with session.post(
            f"{stack_env['ROUTER_URL']}/v1/tickets/{tid}/events",
            json={"type": "closed", "agent_id": "a-1", "at": at},
            headers=auth(stack_env["AGENT_TOKEN"]),
        ) as resp:
            assert resp.status == 422
        async with session.get(f"{stack_env['SLA_URL']}/v1/sla/summary") as resp:
            summary = await resp.json()
            assert resp.status == 200 and "totals" in summary


async def _wait_sla(
    session: aiohttp.ClientSession, env: dict[str, str], tid: str, ok: Any, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        async with session.get(f"{env['SLA_URL']}/v1/sla/tickets/{tid}") as resp:
            if resp.status == 200:
                last = await resp.json()
                if ok(last):
                    return dict(last)
        await asyncio.sleep(0.2)
    raise AssertionError(f"SLA state never matched; last: {last}")
