from __future__ import annotations

import asyncio

import pytest

from services.intake.dedupe import RecentlyAcked


async def test_concurrent_retries_send_once() -> None:
    dedupe = RecentlyAcked()
    sends = 0
    gate = asyncio.Event()

    async def send() -> None:
        nonlocal sends
        sends += 1
        await gate.wait()

    tasks = [asyncio.create_task(dedupe.once("m1", send)) for _ in range(5)]
    await asyncio.sleep(0.01)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert sends == 1
    assert sorted(results) == [False, False, False, False, True]
    assert await dedupe.once("m1", send) is False
    assert sends == 1


async def test_failed_send_is_not_remembered() -> None:
    dedupe = RecentlyAcked()

    async def boom() -> None:
        raise RuntimeError("broker away")

    with pytest.raises(RuntimeError):
        await dedupe.once("m1", boom)
    assert not dedupe.seen("m1")


def test_capacity_evicts_oldest() -> None:
    dedupe = RecentlyAcked(capacity=2)
    for mid in ("a", "b", "c"):
        dedupe.remember(mid)
    assert not dedupe.seen("a")
    assert dedupe.seen("b") and dedupe.seen("c")


async def test_a_concurrent_retry_shares_the_failure_and_a_cancelled_one_harms_nothing() -> None:
    dedupe = RecentlyAcked()
    gate = asyncio.Event()

    async def failing() -> None:
        await gate.wait()
        raise RuntimeError("broker away")

    first = asyncio.create_task(dedupe.once("m1", failing))
    retry = asyncio.create_task(dedupe.once("m1", failing))
    gone = asyncio.create_task(dedupe.once("m1", failing))
    await asyncio.sleep(0.01)
    gone.cancel()
    gate.set()
    for task in (first, retry):
        with pytest.raises(RuntimeError):
            await task
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert not dedupe.seen("m1")
