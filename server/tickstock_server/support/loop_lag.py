"""How late the event loop runs a timer: the length of the loop steps that held it up.

A timer due every `interval_s` notes how far past its due time it ran. On an idle loop that is a few
tens of microseconds; a step that runs for 30 ms (a big fan-out, a full garbage collection, a blocking
call) delays the timer by up to 30 ms. So the histogram ``tickstock_event_loop_lag_seconds`` shows how
often the process's loop was held for longer than a stream, a health check or a feed batch can wait, and
whether any loop step blocks for more than 5 ms can be checked on a running service.

Cost: one timer callback per interval (100 a second by default), a few microseconds each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Self

from tickstock_server.support.histograms import Histogram
from tickstock_server.support.metric_samples import MetricSample

__all__ = ["LAG_BUCKETS_S", "LoopLagProbe"]

LAG_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
"""Upper bounds of the lag buckets, in seconds (+Inf follows)."""


class LoopLagProbe:
    """A self-rescheduling timer on one event loop that counts its lateness; `Instrumented`.

    `start()` (or ``with probe:``) arms it on the running loop and `stop()` cancels it. Each run observes
    its lateness by `clock_s`, then schedules the next one interval after its own due time, or at once when
    that has passed: a long step is counted once, by the run it delayed, not again by the runs after it.
    The timer is set with `call_later`, since a loop's own clock may be coarse (uvloop's ticks in whole
    milliseconds), which adds up to a millisecond to each observation.
    """

    def __init__(self, interval_s: float = 0.01, clock_s: Callable[[], float] = time.monotonic) -> None:
        """Probe nothing yet.

        Args:
            interval_s: Time between two runs, seconds (> 0).
            clock_s: A monotonic clock, seconds.

        Raises:
            ValueError: `interval_s` is not positive.
        """
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, not {interval_s!r}")
        self._interval_s = interval_s
        self._clock_s = clock_s
        self._lag = Histogram(LAG_BUCKETS_S)
        self._timer: asyncio.TimerHandle | None = None
        self._due_s = 0.0

    def start(self) -> None:
        """Arm the probe on the running event loop (a second start changes nothing)."""
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._due_s = self._clock_s() + self._interval_s
            self._timer = loop.call_later(self._interval_s, self._run, loop)

    def stop(self) -> None:
        """Cancel the next run; the counts so far stay."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        now_s = self._clock_s()
        self._lag.observe(max(0.0, now_s - self._due_s))
        self._due_s = max(self._due_s + self._interval_s, now_s)
        self._timer = loop.call_later(self._due_s - now_s, self._run, loop)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def metric_samples(self) -> Sequence[MetricSample]:
        """The lag histogram."""
        return [
            self._lag.sample(
                "tickstock_event_loop_lag_seconds",
                "How late the event loop ran a periodic timer: the loop steps that held it up.",
            )
        ]
