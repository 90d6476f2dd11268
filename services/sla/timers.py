"""In-memory timers: sleep until the earliest deadline instead of scanning open tickets every tick.

A binary heap ordered by deadline, with lazy deletion: rescheduling or cancelling a key only
forgets its current entry, and stale entries are dropped when they reach the top (or in one
compaction pass once they outnumber live ones). Schedule and pop cost O(log n).
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Generic, TypeVar

from services.sla.calendar import require_aware

K = TypeVar("K", bound=Hashable)
# Re-read the wall clock at least this often, so a clock step never leaves a timer asleep for long.
MAX_SLEEP_SECONDS = 30.0
_COMPACT_MIN = 1024


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TimerQueue(Generic[K]):
    """One timer per key; ``due()`` is meant for a single consumer task."""

    def __init__(self, *, now: Callable[[], datetime] = _utcnow) -> None:
        self._now = now
        # (deadline as POSIX seconds, sequence, key, deadline); sequence breaks ties in order.
        self._heap: list[tuple[float, int, K, datetime]] = []
        self._live: dict[K, tuple[int, datetime]] = {}  # key -> (sequence, deadline) of its entry
        self._seq = 0
        self._wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: object) -> bool:
        return key in self._live

    def schedule(self, key: K, when: datetime) -> None:
        """Set (or move) the timer for ``key``; wakes ``due()`` if this is now the earliest."""
        stamp = require_aware(when, "when").timestamp()
        self._seq += 1
        self._live[key] = (self._seq, when)
        earliest = self._peek()
        heapq.heappush(self._heap, (stamp, self._seq, key, when))
        if earliest is None or stamp < earliest[0]:
            self._wake.set()
        self._maybe_compact()

    def cancel(self, key: K) -> bool:
        """Forget the timer for ``key``; False if there was none."""
        if self._live.pop(key, None) is None:
            return False
        self._maybe_compact()
        return True

    def when(self, key: K) -> datetime | None:
        entry = self._live.get(key)
        return None if entry is None else entry[1]

    def peek(self) -> tuple[K, datetime] | None:
        """The earliest live timer, without removing it."""
        top = self._peek()
        return None if top is None else (top[2], top[3])

    def pop_due(self, now: datetime | None = None) -> list[tuple[K, datetime]]:
        """Remove and return, earliest first, every timer due at ``now``; never waits."""
        limit = require_aware(now or self._now(), "now").timestamp()
        fired: list[tuple[K, datetime]] = []
        while (top := self._peek()) is not None and top[0] <= limit:
            heapq.heappop(self._heap)
            del self._live[top[2]]
            fired.append((top[2], top[3]))
        return fired

    async def due(self) -> list[tuple[K, datetime]]:
        """Sleep until the earliest deadline (or an earlier one is set); pop all that is due."""
        while True:
            self._wake.clear()
            fired = self.pop_due()
            if fired:
                return fired
            top = self._peek()
            delay = MAX_SLEEP_SECONDS
            if top is not None:
                delay = min(max(top[0] - self._now().timestamp(), 0.0), MAX_SLEEP_SECONDS)
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def _peek(self) -> tuple[float, int, K, datetime] | None:
        heap, live = self._heap, self._live
        while heap:
            entry = live.get(heap[0][2])
            if entry is not None and entry[0] == heap[0][1]:
                return heap[0]
            heapq.heappop(heap)
        return None

    def _maybe_compact(self) -> None:
        """Rebuild once stale entries dominate, so churn cannot grow memory without bound."""
        if len(self._heap) > _COMPACT_MIN and len(self._heap) > 2 * len(self._live):
            live = self._live
            self._heap = [e for e in self._heap if (live.get(e[2]) or (0,))[0] == e[1]]
            heapq.heapify(self._heap)
