"""Ends a stream whose client stopped reading, on the server's clock, so it frees its slot in bounded time.

A client that stops reading does not stop the stream by itself: HTTP/2 flow control makes the server's
write wait (after the client library has buffered a few MB), the writer never gets back to its queue,
and an overflow of that queue is only noticed when the client reads again. Until then the stream holds
its per-user slot. The guard races every write against a deadline on the event loop's clock:

- DISCONNECT: each message must be taken by the client within `timeout_s` of being written, and once
  the queue has overflowed, every message (the final drop notice) within `timeout_s` of the overflow.
- CONFLATE keeps its stream open through a stall (its memory is bounded by the conflated queue and the
  one message being written) until the stream has ended on purpose (maximum age, shutdown, a restart
  of the log): from then on each message must be taken within `timeout_s` too, so a stalled CONFLATE
  stream lives at most the maximum stream age plus `timeout_s`.

A missed deadline raises `SubscriberOverloadedError`; the writer's caller then closes the session (the
subscription and its slot go at once) and the call ends with RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from tickstock_server.delivery.hub import SlowConsumerPolicy, Subscriber
from tickstock_server.errors import SubscriberOverloadedError


class StallGuard:
    """Writes one stream's messages, each within the deadline its subscriber's policy sets."""

    def __init__(self, timeout_s: float) -> None:
        """Guard a stream whose messages may wait up to `timeout_s` seconds for the client to read them."""
        self.timeout_s = timeout_s
        self._subscriber: Subscriber | None = None
        self._writing: asyncio.Timeout | None = None

    def watch(self, subscriber: Subscriber) -> None:
        """Take the deadlines of `subscriber`'s policy and queue from now on."""
        self._subscriber = subscriber
        subscriber.on_end = self._ended

    def deadline(self) -> float | None:
        """Event-loop time by which a message written now must be taken; None when it may wait."""
        subscriber = self._subscriber
        if subscriber is None:
            return None
        if subscriber.overloaded_at_s is not None:
            return subscriber.overloaded_at_s + self.timeout_s
        conflate = subscriber.options.slow_consumer_policy is SlowConsumerPolicy.CONFLATE
        if conflate and subscriber.ended is None:
            return None
        return asyncio.get_running_loop().time() + self.timeout_s

    async def write(self, send: Awaitable[None]) -> None:
        """Await `send` (one message's write) within its deadline.

        Raises:
            SubscriberOverloadedError: The client did not take the message in time.
        """
        timeout = self._writing = asyncio.timeout_at(self.deadline())
        try:
            async with timeout:
                await send
        except TimeoutError:
            if not timeout.expired():
                raise  # not the deadline's
            raise SubscriberOverloadedError(self._stalled()) from None
        finally:
            self._writing = None

    def _ended(self) -> None:
        # A write that was allowed to wait (CONFLATE) may not any more: the stream is over.
        writing = self._writing
        if writing is not None and writing.when() is None:
            writing.reschedule(asyncio.get_running_loop().time() + self.timeout_s)

    def _stalled(self) -> str:
        subscriber = self._subscriber
        if subscriber is not None and subscriber.overloaded_at_s is not None:
            return (
                f"the client read too slowly: its queue of {subscriber.capacity} events overflowed and "
                f"it did not read for {self.timeout_s:g} s; resume from the last token received"
            )
        return (
            f"the client did not read the stream for {self.timeout_s:g} s; the stream is closed and its "
            "slot freed: resume from the last token received"
        )
