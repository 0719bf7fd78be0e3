"""Garbage-collector tuning for a long-running server: freeze what start-up and full collections leave.

The collection thresholds stay CPython's. Measured on the fan-out benchmark (1,000 streams), a young
threshold of 50_000 instead of 700 made each young collection a ~21 ms pause (the survivors of 50_000
allocations are scanned at once), against ~1 ms at 700: fewer collections, but each one a stall of every
stream. ``tickstock_gc_pause_seconds`` shows the pauses per generation.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from tickstock_server.support.gc_hook import GcHook

__all__ = ["SurvivorFreezer", "freeze_startup_heap"]

THAW_INTERVAL_S = 600.0
"""How often the frozen heap is handed back to the collector (see `SurvivorFreezer`)."""


def freeze_startup_heap() -> int:
    """Collect and freeze the survivors: once, after start-up.

    The full collection frees start-up garbage first (frozen garbage would never be freed). `gc.freeze`
    then moves every surviving object (modules, code, classes, settings, the calendar, the gRPC
    machinery, caches and detector state built so far) to the permanent generation: collections never
    scan it again, so a full (generation 2) collection, which rescans every object not frozen, only
    walks what was allocated since. Frozen objects are still freed when their reference count drops to
    zero; only cycles among them would never be collected, which is why this belongs after start-up,
    when what exists lives for the whole process.

    Returns:
        How many objects are now frozen (for the start-up log).
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class SurvivorFreezer(GcHook):
    """A `gc.callbacks` hook: freezes what each full collection leaves, and thaws it every 10 minutes.

    A full (generation 2) collection rescans every object not frozen. In a gateway with 1,000 open
    streams that is about 130,000 objects of stream state (tasks, coroutines, generators, gRPC call
    state), which live as long as their streams: each full collection, about twice a minute under load,
    stopped every stream for 60-90 ms. Frozen right after a full collection (when no unreachable cycle
    is left), survivors are never rescanned: later full collections, as frequent as before, walk only
    what was allocated since the last one.

    The cost: an object frozen while alive that later becomes part of an unreachable cycle is not freed
    until the heap is thawed. So the first full collection after every `thaw_interval_s` unfreezes the
    heap before it runs (that collection sees everything, as before) and freezes again after it.
    Objects freed by their reference count, most of them, are freed at once whether frozen or not.
    """

    def __init__(
        self, *, thaw_interval_s: float = THAW_INTERVAL_S, clock_s: Callable[[], float] = time.monotonic
    ) -> None:
        """Thaw at the first full collection `thaw_interval_s` seconds (by `clock_s`) after the last."""
        self._thaw_interval_s = thaw_interval_s
        self._clock_s = clock_s
        self._next_thaw_s = clock_s() + thaw_interval_s
        self.freezes = 0
        """Full collections whose survivors were frozen."""
        self.thaws = 0
        """Full collections that ran over the thawed heap."""

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        """The hook: before a full collection maybe thaw, after it freeze."""
        if info["generation"] != 2:
            return
        if phase == "start":
            now = self._clock_s()
            if now >= self._next_thaw_s:
                gc.unfreeze()
                self.thaws += 1
                self._next_thaw_s = now + self._thaw_interval_s
        elif phase == "stop":
            gc.freeze()
            self.freezes += 1
