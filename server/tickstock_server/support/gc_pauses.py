"""Garbage-collector pauses: a `gc.callbacks` hook that counts how long each collection stopped the process.

CPython's collector runs on the thread that allocated past a threshold and holds the GIL (unless a
finalizer releases it), so a collection stalls every thread, the event loop included: its duration is a
pause the ticks wait out.
The recorder times each collection from its "start" to its "stop" callback and counts the duration in
fixed buckets per generation, exported as the histogram ``tickstock_gc_pause_seconds{generation}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Self

from tickstock_server.support.gc_hook import GcHook
from tickstock_server.support.histograms import Histogram
from tickstock_server.support.metric_samples import MetricSample

__all__ = ["PAUSE_BUCKETS_S", "GcPauseRecorder"]

PAUSE_BUCKETS_S = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
"""Upper bounds of the pause buckets, in seconds (+Inf follows): young collections take tens of
microseconds, full ones of a large heap tens to hundreds of milliseconds."""

_GENERATIONS = 3
_NS_PER_S = 1_000_000_000


class GcPauseRecorder(GcHook):
    """Counts garbage-collection pauses by generation; `Instrumented` for the metrics collector.

    The recorder is the callback: `install()` (or ``with recorder:``) adds it to `gc.callbacks`,
    `uninstall()` removes it. Each callback reads the clock, and a "stop" also observes the pause in its
    generation's `Histogram`, so it adds well under a microsecond to a collection. Collections do not nest
    and run with the GIL held, so one start time is enough. The metrics thread reads the counts while
    collections may update them: a scrape may see a pause's bucket counted before its sum.
    """

    def __init__(self, clock_ns: Callable[[], int] = time.perf_counter_ns) -> None:
        """Record nothing yet.

        Args:
            clock_ns: A monotonic clock in nanoseconds.
        """
        self._clock_ns = clock_ns
        self._pauses = [Histogram(PAUSE_BUCKETS_S) for _ in range(_GENERATIONS)]
        self._started_ns: int | None = None

    def __call__(self, phase: str, info: Mapping[str, int]) -> None:
        """The `gc.callbacks` hook: time a collection from its "start" to its "stop"."""
        now_ns = self._clock_ns()
        if phase == "start":
            self._started_ns = now_ns
            return
        started_ns = self._started_ns
        if started_ns is None:  # installed during this collection (by a finalizer): its start is unknown
            return
        self._started_ns = None
        self._pauses[info["generation"]].observe((now_ns - started_ns) / _NS_PER_S)

    def uninstall(self) -> None:
        """Stop recording: remove the hook from `gc.callbacks`; the counts so far stay."""
        super().uninstall()
        self._started_ns = None

    def __enter__(self) -> Self:
        self.install()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()

    def metric_samples(self) -> Sequence[MetricSample]:
        """One histogram series per generation, zero until its first collection."""
        return [
            pauses.sample(
                "tickstock_gc_pause_seconds",
                "Time garbage collections stopped the process, by the oldest generation collected.",
                generation=str(generation),
            )
            for generation, pauses in enumerate(self._pauses)
        ]
