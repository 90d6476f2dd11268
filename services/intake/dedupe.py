"""Coalesce retries of the same message inside one intake process.

Downstream is idempotent per message id anyway; this only saves a broker round trip when an
integration retries, and makes concurrent retries wait for the one send already in flight.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import TypeVarTuple

Args = TypeVarTuple("Args")


class RecentlyAcked:
    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._acked: OrderedDict[str, None] = OrderedDict()
        # message id -> its send in flight, and the futures of retries waiting for it
        self._pending: dict[str, list[asyncio.Future[None]]] = {}

    def seen(self, message_id: str) -> bool:
        return message_id in self._acked

    def once(
        self, message_id: str, send: Callable[[*Args], asyncio.Future[None]], *args: *Args
    ) -> tuple[bool, asyncio.Future[None] | None]:
        """Call ``send(*args)`` unless this id was acked or is in flight: (whether this call sent it,
        the future to await for the acknowledgement, None when already acked).

        No coroutine: the caller awaits the send's future itself. A concurrent retry gets a
        future of its own that shares the send's outcome (made only when a retry comes), so
        cancelling one waiter does not cancel the send or the others.
        """
        if message_id in self._acked:
            return False, None
        waiters = self._pending.get(message_id)
        if waiters is not None:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            waiters.append(waiter)
            return False, waiter
        sent = send(*args)
        self._pending[message_id] = []
        sent.add_done_callback(partial(self._settled, message_id))
        return True, sent

    def _settled(self, message_id: str, sent: asyncio.Future[None]) -> None:
        waiters = self._pending.pop(message_id)
        if sent.cancelled():  # its caller went away: the retries have no answer either
            for waiter in waiters:
                waiter.cancel()
            return
        error = sent.exception()
        if error is None:
            self.remember(message_id)
        for waiter in waiters:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)

    def remember(self, message_id: str) -> None:
        self._acked[message_id] = None
        if len(self._acked) > self._capacity:
            self._acked.popitem(last=False)
