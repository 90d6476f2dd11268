"""Coalesce retries of the same message inside one intake process.

Downstream is idempotent per message id anyway; this only saves a broker round trip when an
integration retries, and makes concurrent retries wait for the one send already in flight.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable


class RecentlyAcked:
    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._acked: OrderedDict[str, None] = OrderedDict()
        self._pending: dict[str, list[asyncio.Future[None]]] = {}

    def seen(self, message_id: str) -> bool:
        return message_id in self._acked

    async def once(self, message_id: str, send: Callable[[], Awaitable[None]]) -> bool:
        """Run ``send`` unless this id was acked or is in flight; True when this call sent it.

        A concurrent retry waits for the send in flight and shares its outcome; the futures
        for that are made only when a retry comes (rare), not for every message.
        """
        if message_id in self._acked:
            return False
        waiters = self._pending.get(message_id)
        if waiters is not None:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            waiters.append(waiter)
            await waiter
            return False
        waiters = self._pending[message_id] = []
        try:
            await send()
        except BaseException as exc:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            raise
        else:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self.remember(message_id)
        finally:
            del self._pending[message_id]
        return True

    def remember(self, message_id: str) -> None:
        self._acked[message_id] = None
        if len(self._acked) > self._capacity:
            self._acked.popitem(last=False)
