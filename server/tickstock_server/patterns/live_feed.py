"""Live pattern streams: each gets the new cached patterns its filter selects, through a bounded queue."""

from __future__ import annotations

import asyncio
from collections import deque

from tickstock_server.domain.patterns import Pattern
from tickstock_server.errors import SubscriberOverloadedError
from tickstock_server.patterns.scan import ScanQuery


class PatternSubscription:
    """One live pattern stream.

    When its queue of `capacity` patterns is full the stream ends (RESOURCE_EXHAUSTED): a client that
    cannot keep up rescans with ScanPatterns; nothing is dropped silently.
    """

    def __init__(self, query: ScanQuery, capacity: int) -> None:
        self.query = query
        self.capacity = capacity
        self._queue: deque[Pattern] = deque()
        self._wakeup = asyncio.Event()
        self._overflowed = False

    def offer(self, pattern: Pattern) -> None:
        """Queue a new pattern when the filter selects it (a cache listener: synchronous, never blocks)."""
        if self._overflowed or not self.query.matches(pattern):
            return
        if len(self._queue) >= self.capacity:
            self._overflowed = True
        else:
            self._queue.append(pattern)
        self._wakeup.set()

    async def receive(self, heartbeat_s: float) -> Pattern | None:
        """The next pattern, or None after `heartbeat_s` of silence.

        Raises:
            SubscriberOverloadedError: The queue overflowed.
        """
        while True:
            if self._queue:
                return self._queue.popleft()
            if self._overflowed:
                raise SubscriberOverloadedError(
                    f"the client read too slowly and its queue of {self.capacity} patterns overflowed; "
                    "use ScanPatterns to catch up"
                )
            self._wakeup.clear()
            try:
                async with asyncio.timeout(heartbeat_s):
                    await self._wakeup.wait()
            except TimeoutError:
                return None
