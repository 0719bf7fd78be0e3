"""The subscription hub: routes log entries to subscribers through a symbol index and bounded queues."""

from __future__ import annotations

import asyncio
import enum
import itertools
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass

from tickstock_server.delivery.event_log import LogEntry
from tickstock_server.delivery.filters import EventFilter
from tickstock_server.errors import LimitExceededError, NotReadyError


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryOptions:
    """Effective, validated delivery settings of one subscription."""

    max_batch_size: int
    max_batch_latency_s: float
    """Longest an event waits for its batch to fill."""
    heartbeat_interval_s: float
    """Idle time after which a heartbeat is sent."""


class EndReason(enum.Enum):
    """Why the hub ends a subscription."""

    OVERLOADED = "overloaded"
    """The queue overflowed (slow consumer, DISCONNECT policy)."""
    SHUTDOWN = "shutdown"
    """The server is stopping; queued events are still delivered, then a rotation hint."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Nothing to deliver for a heartbeat interval."""


@dataclass(frozen=True, slots=True)
class Ended:
    """The subscription is over."""

    reason: EndReason


Delivery = list[LogEntry] | Heartbeat | Ended
"""What `Subscriber.receive` returns: a batch of entries, a heartbeat, or the end."""

_ids = itertools.count(1)


class Subscriber:
    """One subscription's bounded queue. The hub offers entries; the stream handler receives batches.

    When the queue is full the subscription ends with `EndReason.OVERLOADED`: nothing is dropped silently,
    and the client resumes from its last token.
    """

    def __init__(self, user: str, event_filter: EventFilter, options: DeliveryOptions, capacity: int) -> None:
        self.subscription_id = f"sub-{next(_ids)}"
        self.user = user
        self.filter = event_filter
        self.options = options
        self.capacity = capacity
        self.dropped = 0
        """Entries not queued because the subscription had overflowed."""
        self.first_dropped_seq = 0
        self.last_dropped_seq = 0
        self._queue: deque[LogEntry] = deque()
        self._first_arrival = 0.0
        self._wakeup = asyncio.Event()
        self._end: EndReason | None = None

    @property
    def queue_depth(self) -> int:
        """Entries waiting to be sent."""
        return len(self._queue)

    def offer(self, entry: LogEntry) -> None:
        """Queue an entry; on overflow, end the subscription (called by the hub)."""
        if self._end is not None:
            if self._end is EndReason.OVERLOADED:
                self._note_drop(entry.seq)
            return
        if len(self._queue) >= self.capacity:
            self._note_drop(entry.seq)
            self.end(EndReason.OVERLOADED)
            return
        self._queue.append(entry)
        if len(self._queue) == 1:
            self._first_arrival = asyncio.get_running_loop().time()
            self._wakeup.set()
        elif len(self._queue) == self.options.max_batch_size:
            self._wakeup.set()

    def end(self, reason: EndReason) -> None:
        """End the subscription; the first reason wins."""
        if self._end is None:
            self._end = reason
            self._wakeup.set()

    async def receive(self) -> Delivery:
        """Wait for the next batch (full, or older than the batch latency), a heartbeat, or the end."""
        loop = asyncio.get_running_loop()
        while True:
            if self._end is EndReason.OVERLOADED or (self._end is not None and not self._queue):
                return Ended(self._end)
            if self._queue:
                remaining = self._first_arrival + self.options.max_batch_latency_s - loop.time()
                if len(self._queue) >= self.options.max_batch_size or remaining <= 0 or self._end:
                    return self._take_batch(loop.time())
                timeout = remaining
            else:
                timeout = self.options.heartbeat_interval_s
            self._wakeup.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()
            except TimeoutError:
                if not self._queue and self._end is None:
                    return Heartbeat()

    def _take_batch(self, now: float) -> list[LogEntry]:
        size = min(len(self._queue), self.options.max_batch_size)
        batch = [self._queue.popleft() for _ in range(size)]
        self._first_arrival = now
        return batch

    def _note_drop(self, seq: int) -> None:
        if self.dropped == 0:
            self.first_dropped_seq = seq
        self.dropped += 1
        self.last_dropped_seq = seq


class SubscriptionHub:
    """Holds the live subscriptions, indexed by symbol so publishing never scans every subscriber."""

    def __init__(self, *, max_streams_per_user: int, queue_capacity: int) -> None:
        self._max_streams_per_user = max_streams_per_user
        self._queue_capacity = queue_capacity
        self._by_symbol: dict[str, set[Subscriber]] = {}
        self._all_symbols: set[Subscriber] = set()
        self._streams = Counter[str]()
        self._closed = False

    @property
    def queue_capacity(self) -> int:
        """Capacity of each subscriber's queue."""
        return self._queue_capacity

    def open_streams(self, user: str) -> int:
        """Subscriptions the user holds now."""
        return self._streams[user]

    def subscribe(self, user: str, event_filter: EventFilter, options: DeliveryOptions) -> Subscriber:
        """Register a subscription; raise LimitExceededError beyond the per-user stream limit."""
        if self._streams[user] >= self._max_streams_per_user:
            raise LimitExceededError(
                f"at most {self._max_streams_per_user} concurrent event streams per user"
            )
        if self._closed:
            raise NotReadyError("the server is shutting down; reconnect to another replica or retry")
        subscriber = Subscriber(user, event_filter, options, self._queue_capacity)
        if event_filter.symbols:
            for symbol in event_filter.symbols:
                self._by_symbol.setdefault(symbol, set()).add(subscriber)
        else:
            self._all_symbols.add(subscriber)
        self._streams[user] += 1
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Remove a subscription (idempotent)."""
        if subscriber.filter.symbols:
            for symbol in subscriber.filter.symbols:
                members = self._by_symbol.get(symbol)
                if members is not None and subscriber in members:
                    members.discard(subscriber)
                    if not members:
                        del self._by_symbol[symbol]
        elif subscriber in self._all_symbols:
            self._all_symbols.discard(subscriber)
        else:
            return
        self._streams[subscriber.user] -= 1
        if not self._streams[subscriber.user]:
            del self._streams[subscriber.user]

    def publish(self, entries: Iterable[LogEntry]) -> None:
        """Offer each entry to the subscribers of its symbol and to those of every symbol."""
        for entry in entries:
            event = entry.event
            for subscriber in self._by_symbol.get(event.symbol, ()):
                if subscriber.filter.matches(event):
                    subscriber.offer(entry)
            for subscriber in self._all_symbols:
                if subscriber.filter.matches(event):
                    subscriber.offer(entry)

    def close(self) -> None:
        """End every subscription for shutdown and refuse to start new ones."""
        self._closed = True
        for members in (*self._by_symbol.values(), self._all_symbols):
            for subscriber in members:
                subscriber.end(EndReason.SHUTDOWN)

    def __len__(self) -> int:
        return sum(self._streams.values())
