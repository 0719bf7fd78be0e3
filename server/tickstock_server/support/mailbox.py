"""The bounded mailbox between a synchronous producer and one async reader, with an explicit overflow policy.

Every subscriber queue of the server is one: event streams (the hub's `Subscriber`, which adds batching),
pattern streams, alert streams (which add suppression notices) and backtest watchers (a conflating
mailbox of one). The producer side (`put`, `put_after`, `push`) is synchronous and never blocks: it runs
inline on the event loop, in the middle of fanning out an event. The reader takes items and `wait`s,
with a timeout when it owes its client a heartbeat.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class OverflowPolicy(enum.Enum):
    """What a mailbox does with an item that arrives when it already holds `capacity` items."""

    END = "end"
    """Refuse the item and every later one: the mailbox is `overloaded` for good. The items already
    queued stay for the reader, which decides whether to drain them before it reports the overload."""
    CONFLATE = "conflate"
    """Queue the item, then let the compaction shrink the queue (by default to its newest `capacity`
    items). The mailbox never refuses an item; superseded ones are removed instead."""


Compaction = Callable[[deque[T]], tuple[deque[T], Sequence[T]]]
"""Given an over-full queue (newest item last), return the queue to keep, in order, and the removed
items, in the order `on_drop` should see them."""


class Mailbox(Generic[T]):
    """A bounded FIFO queue from a synchronous producer to one async reader.

    At the bound, when `capacity` items are queued, a `put` meets the overflow policy:

    - `OverflowPolicy.END`: the item is refused and the mailbox becomes `overloaded`: it refuses every
      later item as well. Each refused item counts in `dropped` and goes to `on_drop`; `on_overload` is
      called once; the reader is woken. Nothing already queued is lost.
    - `OverflowPolicy.CONFLATE`: the item is queued, then `compact` reduces the queue. Each removed item
      counts in `dropped` and goes to `on_drop`; the reader is woken.

    After `close` the mailbox refuses items silently (not counted): the stream ends on purpose. An
    overloaded mailbox keeps counting what it refuses, closed or not.

    The reader is woken when the queue goes from empty to non-empty, and, when `batch_size` is set, again
    when it reaches `batch_size` items (a full batch); an item added to a queue that is neither leaves the
    reader asleep, which is what lets a burst leave as one batch. `batch_start_s` then records when the
    current batch began (event-loop time), for the reader's linger.

    Not thread-safe: use it from one event loop only. The mailbox keeps that loop from its first use:
    `asyncio.get_running_loop` makes a `getpid` system call on every call in CPython 3.11, and the fan-out
    would otherwise make four of them per message (about 16,000 a second at 1,000 streams).
    """

    __slots__ = (
        "_batch_size",
        "_compact",
        "_loop",
        "_on_drop",
        "_on_overload",
        "_queue",
        "_refusing",
        "_waiter",
        "batch_start_s",
        "capacity",
        "closed",
        "dropped",
        "overloaded",
        "policy",
    )

    def __init__(
        self,
        capacity: int,
        policy: OverflowPolicy = OverflowPolicy.END,
        *,
        compact: Compaction[T] | None = None,
        on_drop: Callable[[Sequence[T]], None] | None = None,
        on_overload: Callable[[], None] | None = None,
        batch_size: int | None = None,
    ) -> None:
        """Create an empty, open mailbox.

        Args:
            capacity: Most items queued before the policy acts; at least 1.
            policy: What happens at the bound.
            compact: How CONFLATE shrinks an over-full queue; by default it keeps the newest `capacity`
                items and removes the oldest one.
            on_drop: Called with the items refused (END) or removed (CONFLATE), e.g. to report them.
            on_overload: Called once when an END mailbox first overflows.
            batch_size: Wake the reader again at this many items, and keep `batch_start_s`; None for a
                reader that takes one item at a time.
        """
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.capacity = capacity
        self.policy = policy
        self.dropped = 0
        """Items refused after an overflow (END) or removed by compaction (CONFLATE); never those
        refused because the mailbox was closed, nor those `clear` discarded."""
        self.overloaded = False
        """True once an END mailbox overflowed; it then refuses every item."""
        self.closed = False
        """True once `close` was called; the mailbox then refuses every item."""
        self.batch_start_s = 0.0
        """Event-loop time at which the queue last became non-empty or a batch was taken (`batch_size`
        mailboxes only)."""
        # The default compaction is a method, not stored: a bound method of the mailbox kept in it would
        # be a reference cycle, and every mailbox garbage only the collector can free.
        self._compact = compact
        self._on_drop = on_drop
        self._on_overload = on_overload
        self._batch_size = batch_size
        self._queue: deque[T] = deque()
        self._waiter: asyncio.Future[bool] | None = None
        self._refusing = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def __len__(self) -> int:
        return len(self._queue)

    # --- producer side ---------------------------------------------------------------------------------

    def put(self, item: T) -> bool:
        """Queue `item`; at the bound apply the policy. Returns whether the item was queued."""
        if self._refusing:
            if self.overloaded:
                self._drop((item,))
            return False
        queue = self._queue
        if len(queue) >= self.capacity:
            return self._overflow((), item)
        queue.append(item)
        size = len(queue)
        if size == 1:
            if self._batch_size is not None:
                self.batch_start_s = self.loop().time()
            self._wake()
        elif size == self._batch_size:
            self._wake()
        return True

    def put_after(self, prefix: Sequence[T], item: T) -> bool:
        """Queue `prefix` then `item`, all or none: they share the bound.

        When they do not all fit, the policy acts on `item` alone (END refuses and counts only it) and
        `prefix` is not queued: it stays the caller's, e.g. notices to send later. Returns whether the
        items were queued.
        """
        if not prefix:
            return self.put(item)
        if self._refusing:
            if self.overloaded:
                self._drop((item,))
            return False
        if len(self._queue) + len(prefix) >= self.capacity:
            return self._overflow(prefix, item)
        self._append((*prefix, item))
        return True

    def push(self, items: Iterable[T]) -> None:
        """Queue `items` whatever the bound and the state.

        For the few control items (notices) a reader must get even from a full, overloaded or closed
        mailbox. They count toward the bound of later puts.
        """
        self._append(items)

    def close(self) -> None:
        """Refuse items from now on (idempotent) and wake the reader; queued items stay."""
        self.closed = True
        self._refusing = True
        self._wake()

    def wake(self) -> None:
        """Wake the reader, e.g. after a change of state it must look at."""
        self._wake()

    # --- reader side -----------------------------------------------------------------------------------

    def take(self) -> T:
        """Remove and return the oldest item (the mailbox must not be empty)."""
        return self._queue.popleft()

    def take_batch(self, max_size: int) -> list[T]:
        """Remove and return the oldest `max_size` items (fewer when fewer are queued); a new batch starts."""
        queue = self._queue
        batch = [queue.popleft() for _ in range(min(len(queue), max_size))]
        if self._batch_size is not None:
            self.batch_start_s = self.loop().time()
        return batch

    def clear(self) -> None:
        """Discard every queued item (not counted in `dropped`)."""
        self._queue.clear()

    async def wait(self, timeout_s: float | None) -> bool:
        """Sleep until the producer wakes the reader, or `timeout_s` seconds pass (None: no limit).

        A wake-up before the call is not remembered: the reader looks at the queue before it waits.
        Every stream's reader waits once per message, so this is a bare future and a timer handle, not
        an `asyncio.Event` inside an `asyncio.timeout`.

        Returns:
            False when the time ran out with nothing waking the reader: time for a heartbeat.
        """
        loop = self.loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiter = waiter
        timer = None if timeout_s is None else loop.call_later(timeout_s, _time_up, waiter)
        try:
            return await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    async def get(self) -> T:
        """Wait for an item and take it; for a mailbox that is never closed (it would wait forever)."""
        while not self._queue:
            await self.wait(None)
        return self._queue.popleft()

    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the mailbox is used from: the running one at its first use."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop

    # --- internals -------------------------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    def _append(self, items: Iterable[T]) -> None:
        self._queue.extend(items)
        self._wake()

    def _overflow(self, prefix: Sequence[T], item: T) -> bool:
        if self.policy is OverflowPolicy.END:
            self.overloaded = True
            self._refusing = True
            self._drop((item,))
            self._report_overload()
            self._wake()
            return False
        queue = self._queue
        queue.extend(prefix)
        queue.append(item)
        self._queue, removed = self._compact_queue(queue)
        self._drop(removed)
        self._wake()
        return True

    def _drop(self, items: Sequence[T]) -> None:
        self.dropped += len(items)
        if items:
            self._report_drops(items)

    # --- hooks: a subclass overrides these rather than passing its own bound methods, which would make
    # each instance a reference cycle (freed only by a full collection, and never while frozen) ---------

    def _compact_queue(self, queue: deque[T]) -> tuple[deque[T], Sequence[T]]:
        """CONFLATE's compaction: `compact`, or keep the newest `capacity` items."""
        if self._compact is not None:
            return self._compact(queue)
        removed = []
        while len(queue) > self.capacity:
            removed.append(queue.popleft())
        return queue, removed

    def _report_drops(self, items: Sequence[T]) -> None:
        """Items refused (END) or removed (CONFLATE): to `on_drop`."""
        if self._on_drop is not None:
            self._on_drop(items)

    def _report_overload(self) -> None:
        """An END mailbox's first overflow: to `on_overload`."""
        if self._on_overload is not None:
            self._on_overload()


def _time_up(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)
