from __future__ import annotations

import asyncio

import pytest

from services.intake.dedupe import RecentlyAcked


class _Sends:
    """``send`` for ``RecentlyAcked.once``: counts calls, and each returns a future settled by
    the test."""

    def __init__(self) -> None:
        self.futures: list[asyncio.Future[None]] = []

    def __call__(self) -> asyncio.Future[None]:
        self.futures.append(asyncio.get_running_loop().create_future())
        return self.futures[-1]


async def _outcome(dedupe: RecentlyAcked, message_id: str, send: _Sends) -> bool:
    sent, acked = dedupe.once(message_id, send)
    if acked is not None:
        await acked
    return sent


async def test_concurrent_retries_send_once() -> None:
    dedupe = RecentlyAcked()
    send = _Sends()
    tasks = [asyncio.create_task(_outcome(dedupe, "m1", send)) for _ in range(5)]
    await asyncio.sleep(0.01)
    send.futures[0].set_result(None)
    results = await asyncio.gather(*tasks)
    assert len(send.futures) == 1
    assert sorted(results) == [False, False, False, False, True]
    assert dedupe.once("m1", send) == (False, None)  # acked: nothing to await
    assert len(send.futures) == 1


async def test_failed_send_is_not_remembered_and_the_next_post_sends_again() -> None:
    dedupe = RecentlyAcked()
    send = _Sends()
    first = asyncio.create_task(_outcome(dedupe, "m1", send))
    await asyncio.sleep(0)
    send.futures[0].set_exception(RuntimeError("broker away"))
    with pytest.raises(RuntimeError):
        await first
    assert not dedupe.seen("m1")
    sent, acked = dedupe.once("m1", send)
    assert sent and acked is send.futures[1]


def test_capacity_evicts_oldest() -> None:
    dedupe = RecentlyAcked(capacity=2)
    for mid in ("a", "b", "c"):
        dedupe.remember(mid)
    assert not dedupe.seen("a")
    assert dedupe.seen("b") and dedupe.seen("c")


async def test_a_concurrent_retry_shares_the_failure_and_a_cancelled_one_harms_nothing() -> None:
    dedupe = RecentlyAcked()
    send = _Sends()
    first = asyncio.create_task(_outcome(dedupe, "m1", send))
    retry = asyncio.create_task(_outcome(dedupe, "m1", send))
    gone = asyncio.create_task(_outcome(dedupe, "m1", send))
    await asyncio.sleep(0.01)
    gone.cancel()
    await asyncio.sleep(0)
    send.futures[0].set_exception(RuntimeError("broker away"))
    for task in (first, retry):
        with pytest.raises(RuntimeError):
            await task
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert len(send.futures) == 1 and not dedupe.seen("m1")


async def test_a_cancelled_sender_cancels_its_retries_and_leaves_no_trace() -> None:
    dedupe = RecentlyAcked()
    send = _Sends()
    first = asyncio.create_task(_outcome(dedupe, "m1", send))
    retry = asyncio.create_task(_outcome(dedupe, "m1", send))
    await asyncio.sleep(0.01)
    first.cancel()
    for task in (first, retry):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not dedupe.seen("m1")
    assert dedupe.once("m1", send)[0] is True  # sent anew, not stuck "in flight"
