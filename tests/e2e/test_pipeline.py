"""One message per channel through intake → Kafka → router → PostgreSQL, read back over HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import pytest

from tests.e2e.helpers import auth, post_json, wait_for_ticket

pytestmark = pytest.mark.e2e


def _samples(run: str) -> dict[str, dict[str, Any]]:
    return {
        "phone": {
            "call_id": f"call-{run}",
            "from": "+8613800138000",
            "started_at": "2026-11-02T09:15:00+08:00",
            "ivr_selection": ["1"],
            "transcript": "我的钱包被偷了，请马上帮我冻结账户",
        },
        "email": {
            "message_id": f"<{run}@mail.example.com>",
            "from": "li.wei@example.com",
            "subject": "Top-up not arrived",
            "text": "I topped up 500 yuan yesterday and it still has not arrived in my wallet.",
        },
        "chat": {
            "session_id": f"sess-{run}",
            "message_id": "c-1",
            "text": "The app crashes every time I open it",
        },
        "social": {
            "platform": "weibo",
            "post_id": f"post-{run}",
            "author": {"handle": "angry_user"},
            "visibility": "public",
            "text": "@wallet my card 6222 0212 3456 7894 was charged twice, call me 13800138000",
        },
    }


async def test_every_channel_is_routed_and_read_back(stack_env: dict[str, str]) -> None:
    run = uuid.uuid4().hex[:10]
    async with aiohttp.ClientSession() as session:
        tickets: dict[str, dict[str, Any]] = {}
        for channel, body in _samples(run).items():
            status, data = await post_json(
                session,
                f"{stack_env['INTAKE_URL']}/v1/inbound/{channel}",
                stack_env["INTAKE_TOKEN"],
                body,
            )
            assert status == 202, data
            again, data2 = await post_json(
                session,
                f"{stack_env['INTAKE_URL']}/v1/inbound/{channel}",
                stack_env["INTAKE_TOKEN"],
                body,
            )
            assert again == 202 and data2["message_id"] == data["message_id"]
            tickets[channel] = await wait_for_ticket(
                session, stack_env["ROUTER_URL"], stack_env["AGENT_TOKEN"], data["message_id"]
            )
            assert [m["message_id"] for m in tickets[channel]["messages"]] == [data["message_id"]]

    phone = tickets["phone"]
    assert (phone["skill_group"], phone["priority"]) == ("security", "P1")
    assert phone["reasons"]
    assert tickets["email"]["skill_group"] == "funding"
    assert tickets["chat"]["skill_group"] == "tech_support"
    social = tickets["social"]
    assert social["redacted"] is True
    stored = social["messages"][0]["body"]
    assert "6222 0212 3456 7894" not in stored and "13800138000" not in stored
    assert social["priority"] in {"P1", "P2"}
    for ticket in tickets.values():
        assert ticket["channel"] in {"phone", "email", "chat", "social"}
        assert ticket["status"] == "waiting"


async def test_unauthenticated_and_wrong_token(stack_env: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{stack_env['INTAKE_URL']}/v1/inbound/chat", json={"session_id": "s", "text": "x"}
        ) as resp:
            assert resp.status == 401
            assert resp.content_type == "application/problem+json"
        async with session.get(
            f"{stack_env['ROUTER_URL']}/v1/queues", headers=auth(stack_env["INTAKE_TOKEN"])
        ) as resp:
            assert resp.status == 401
