"""TimerQueue: replace/cancel semantics, order at 100k timers, and waking early for a new earliest."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.sla.timers import TimerQueue

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def frozen(now: datetime = T0) -> TimerQueue[Any]:
    return TimerQueue(now=lambda: now)


def test_schedule_cancel_len_and_lookups() -> None:
    q = frozen()
    q.schedule("a", s(10))
    q.schedule("b", s(5))
    assert len(q) == 2 and "a" in q and "z" not in q
    assert q.when("a") == s(10) and q.when("z") is None
    assert q.peek() == ("b", s(5))
    assert q.cancel("b") and not q.cancel("b")
    assert len(q) == 1 and q.peek() == ("a", s(10))
    assert q.pop_due(s(9)) == []
    assert q.pop_due(s(10)) == [("a", s(10))]
    assert len(q) == 0 and q.peek() is None


def test_scheduling_again_replaces_the_timer() -> None:
    q = frozen()
    q.schedule("t1", s(5))
    q.schedule("t1", s(50))
    assert len(q) == 1
    assert q.pop_due(s(10)) == []
    q.schedule("t1", s(1))
    assert q.pop_due(s(10)) == [("t1", s(1))]
    assert q.pop_due(s(100)) == []


def test_cancel_then_schedule_again() -> None:
    q = frozen()
    q.schedule("k", s(1))
    q.cancel("k")
    q.schedule("k", s(3))
    assert q.pop_due(s(5)) == [("k", s(3))]


def test_equal_deadlines_pop_in_scheduling_order() -> None:
    q = frozen()
    for key in "cab":
        q.schedule(key, s(1))
    assert [k for k, _ in q.pop_due(s(1))] == ["c", "a", "b"]


def test_hashable_keys_of_any_shape() -> None:
    q: TimerQueue[tuple[str, str]] = TimerQueue(now=lambda: T0)
    q.schedule(("t1", "resolution"), s(1))
    q.schedule(("t1", "first_response"), s(0))
    assert [k for k, _ in q.pop_due(s(2))] == [("t1", "first_response"), ("t1", "resolution")]


def test_naive_deadlines_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        frozen().schedule("k", datetime(2026, 3, 2))


def test_100k_timers_pop_in_order() -> None:
    rng = random.Random(7)
    q = frozen()
    deadlines = {f"ticket-{i}": s(rng.uniform(0, 86_400)) for i in range(100_000)}
    started = time.perf_counter()
    for key, when in deadlines.items():
        q.schedule(key, when)
    popped = q.pop_due(s(86_400))
    elapsed = time.perf_counter() - started
    print(f"100k schedule + pop: {elapsed:.3f}s")  # reported, never asserted
    assert len(popped) == 100_000 and len(q) == 0
    assert [w for _, w in popped] == sorted(deadlines.values())
    assert dict(popped) == deadlines


def test_churn_does_not_grow_the_heap_without_bound() -> None:
    q = frozen()
    for round_ in range(50):
        for i in range(1000):
            q.schedule(i, s(round_ * 1000 + i))  # every timer moved 50 times
    assert len(q) == 1000
    assert len(q._heap) <= 3 * 1000 + 1024
    assert [k for k, _ in q.pop_due(s(10**9))] == list(range(1000))


def test_random_operations_match_a_plain_dict() -> None:
    rng = random.Random(11)
    q = frozen()
    model: dict[int, datetime] = {}
    now = 0.0
    for _ in range(20_000):
        op, key = rng.random(), rng.randrange(500)
        if op < 0.6:
            when = s(now + rng.uniform(0, 100))
            q.schedule(key, when)
            model[key] = when
        elif op < 0.8:
            assert q.cancel(key) == (model.pop(key, None) is not None)
        else:
            now += rng.uniform(0, 20)
            fired = q.pop_due(s(now))
            expected = sorted(((w, k) for k, w in model.items() if w <= s(now)))
            assert [w for _, w in fired] == [w for w, _ in expected]
            for k, _ in fired:
                del model[k]
        assert len(q) == len(model)


# --- the async wait (real clock, short sleeps, generous bounds) -------------------------------


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def test_due_returns_at_once_what_is_already_due() -> None:
    q: TimerQueue[str] = TimerQueue()
    q.schedule("late", soon(-1))
    q.schedule("later", soon(3600))
    assert [k for k, _ in await asyncio.wait_for(q.due(), 1)] == ["late"]
    assert len(q) == 1


async def test_due_sleeps_until_the_deadline() -> None:
    q: TimerQueue[str] = TimerQueue()
    q.schedule("k", soon(0.05))
    started = time.monotonic()
    assert [k for k, _ in await asyncio.wait_for(q.due(), 5)] == ["k"]
    assert time.monotonic() - started >= 0.04


async def test_due_wakes_early_for_an_earlier_timer() -> None:
    q: TimerQueue[str] = TimerQueue()
    q.schedule("far", soon(60))
    started = time.monotonic()
    waiter = asyncio.create_task(q.due())
    await asyncio.sleep(0.02)
    assert not waiter.done()
    q.schedule("near", soon(0.03))
    fired = await asyncio.wait_for(waiter, 5)
    assert [k for k, _ in fired] == ["near"]
    assert time.monotonic() - started < 5
    assert "far" in q


async def test_due_on_an_empty_queue_waits_for_the_first_timer() -> None:
    q: TimerQueue[str] = TimerQueue()
    waiter = asyncio.create_task(q.due())
    await asyncio.sleep(0.02)
    assert not waiter.done()
    q.schedule("first", soon(0.01))
    assert [k for k, _ in await asyncio.wait_for(waiter, 5)] == ["first"]


async def test_a_cancelled_timer_never_fires() -> None:
    q: TimerQueue[str] = TimerQueue()
    q.schedule("cancelled", soon(0.03))
    q.schedule("kept", soon(0.08))
    waiter = asyncio.create_task(q.due())
    await asyncio.sleep(0.01)
    q.cancel("cancelled")
    assert [k for k, _ in await asyncio.wait_for(waiter, 5)] == ["kept"]


async def test_moving_a_timer_later_does_not_fire_it_early() -> None:
    q: TimerQueue[str] = TimerQueue()
    q.schedule("k", soon(0.02))
    q.schedule("k", soon(0.1))
    started = time.monotonic()
    assert [k for k, _ in await asyncio.wait_for(q.due(), 5)] == ["k"]
    assert time.monotonic() - started >= 0.08
