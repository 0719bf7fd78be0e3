"""When a stream whose client stopped reading has stalled, on the server's clock, so it can free its slot.

A client that stops reading does not stop the stream by itself: HTTP/2 flow control makes the server's
write wait (after the client library has buffered a few MB), the writer never gets back to its queue,
and an overflow of that queue is only noticed when the client reads again. Until then the stream holds
its per-user slot. The guard stamps each message's write with a deadline on the event loop's clock:

- DISCONNECT: each message must be taken by the client within `timeout_s` of being written, and once
  the queue has overflowed, every message (the final drop notice) within `timeout_s` of the overflow.
- CONFLATE keeps its stream open through a stall (its memory is bounded by the conflated queue and the
  one message being written) until the stream has ended on purpose (maximum age, shutdown, a restart
  of the log): from then on each message must be taken within `timeout_s` too, so a stalled CONFLATE
  stream lives at most the maximum stream age plus `timeout_s`.

The stream's writer only stamps (`writing` before handing a message over, `written` once it was taken):
two attribute stores per message, no timer. Something outside the stream checks `stalled` now and then
(the API's stall sweeper, once a second) and ends the streams past their deadline with
`SubscriberOverloadedError(guard.reason())`.
"""

from __future__ import annotations

from tickstock_server.delivery.hub import SlowConsumerPolicy, Subscriber


class StallGuard:
    """The deadline of the message a stream is writing now, as its subscriber's policy sets it."""

    def __init__(self, timeout_s: float) -> None:
        """Guard a stream whose messages may wait up to `timeout_s` seconds for the client to read them."""
        self.timeout_s = timeout_s
        self._subscriber: Subscriber | None = None
        self._writing = False
        self._deadline: float | None = None

    def watch(self, subscriber: Subscriber) -> None:
        """Take the deadlines of `subscriber`'s policy and queue from now on."""
        self._subscriber = subscriber
        subscriber.on_end = self._ended

    def release(self) -> None:
        """Stop watching, once the stream is over: unlink the guard and its subscriber.

        Each refers to the other (`on_end` is the guard's method), a reference cycle only a full
        collection frees, and the collector's heap is frozen between thaws (`support/gc_tuning.py`):
        unlinked, an ended stream's subscriber, queue and filter are freed at once.
        """
        subscriber = self._subscriber
        if subscriber is not None:
            subscriber.on_end = None
            self._subscriber = None

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
        return subscriber.loop().time() + self.timeout_s

    def writing(self) -> None:
        """A message is handed to the transport now: its deadline runs."""
        self._writing = True
        self._deadline = self.deadline()

    def written(self) -> None:
        """The client took the message being written."""
        self._writing = False
        self._deadline = None

    def stalled(self, now: float) -> bool:
        """Whether the message being written at event-loop time `now` has missed its deadline."""
        deadline = self._deadline
        return deadline is not None and now >= deadline

    def reason(self) -> str:
        """Why a stalled stream ends, for its client."""
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

    def _ended(self) -> None:
        # A write that was allowed to wait (CONFLATE) may not any more: the stream is over.
        subscriber = self._subscriber
        if self._writing and self._deadline is None and subscriber is not None:
            self._deadline = subscriber.loop().time() + self.timeout_s
