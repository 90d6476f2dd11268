"""Small HTTP helpers for end-to-end tests against the running stack."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post_json(
    session: aiohttp.ClientSession, url: str, token: str, body: Any
) -> tuple[int, Any]:
    async with session.post(url, json=body, headers=auth(token)) as resp:
        return resp.status, await resp.json(content_type=None)


async def wait_for_ticket(
    session: aiohttp.ClientSession,
    router_url: str,
    token: str,
    message_id: str,
    timeout: float = 30,
) -> dict[str, Any]:
    """Poll the router until the message is routed (404 until then)."""
    deadline = time.monotonic() + timeout
    while True:
        async with session.get(
            f"{router_url}/v1/tickets", params={"message_id": message_id}, headers=auth(token)
        ) as resp:
            if resp.status == 200:
                data: dict[str, Any] = await resp.json()
                return data
            assert resp.status == 404, await resp.text()
        if time.monotonic() > deadline:
            raise AssertionError(f"message {message_id} not routed within {timeout}s")
        await asyncio.sleep(0.2)
