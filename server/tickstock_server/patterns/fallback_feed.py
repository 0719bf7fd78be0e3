"""The fallback detector behind its switch: completed bars in, the patterns that count out.

One set of rules for every role that owns the one-minute bars (the all-in-one server and each ingest
process): every completed bar goes through the detector, so its history is warm when it takes over;
its patterns count only while the switch says the producer is silent, and each is current from now
for the cache TTL (bars run on event time, which a replay or the session clock may put hours behind).

A minute boundary hands over every symbol's bar at once (4,000 in the default synthetic market, about
27 ms of detection in one piece). `FallbackFeed.detect` works through them in steps of at most
`step_s` and yields to the event loop between steps, so the streams and the event stream's writer
never wait behind the whole minute.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.patterns import Pattern
from tickstock_server.patterns.fallback import FallbackPatternDetector
from tickstock_server.patterns.fallback_switch import FallbackSwitch
from tickstock_server.ports.bars import BarSink
from tickstock_server.support.metric_samples import MetricSample, counter
from tickstock_server.support.time_units import NS_PER_S

__all__ = ["FallbackBarSink", "FallbackFeed"]

_CHECK_EVERY_BARS = 16
"""Bars between two looks at the step's elapsed time (about 0.1 ms of detection, 0.3 ms when each of
them completes a pattern whose event is appended)."""


class FallbackFeed:
    """Runs completed bars through the fallback detector and hands on its patterns while they count."""

    def __init__(
        self,
        *,
        detector: FallbackPatternDetector,
        switch: FallbackSwitch,
        ttl_s: float,
        clock_ns: Callable[[], int],
        step_s: float = 0.002,
        timer_s: Callable[[], float] = time.perf_counter,
    ) -> None:
        """Feed `detector`, gated by `switch`.

        Args:
            detector: The fallback detector; it sees every bar, active or not.
            switch: Says when the producer is silent; `watch` moves it.
            ttl_s: How long a fallback pattern stays current from the moment it is handed on, seconds.
            clock_ns: Wall clock, UTC epoch ns (the switch's time and the patterns' expiry).
            step_s: Longest detection work between two yields to the event loop, seconds.
            timer_s: Monotonic timer of the steps, seconds.
        """
        self.switch = switch
        self._detector = detector
        self._ttl_ns = round(ttl_s * NS_PER_S)
        self._clock_ns = clock_ns
        self._step_s = step_s
        self._timer_s = timer_s
        self.patterns_handed_on = 0
        """Fallback patterns that counted (the switch was active) and were handed on."""
        self.steps = 0
        """Event-loop steps the detection took (one per yield, plus one per call)."""

    async def detect(self, bars: Sequence[Bar], emit: Callable[[Sequence[Pattern]], None]) -> None:
        """Run `bars` through the detector in steps; hand each bar's patterns to `emit` while active.

        Each pattern handed on expires the cache TTL from now. `emit` runs inside the step (in the ingest
        it encodes and appends each pattern's event, which costs more than detecting it), so the step's
        time includes it.
        """
        started_s = self._timer_s()
        self.steps += 1
        for index, bar in enumerate(bars, 1):
            found = self._detector.update(bar)
            if found and self.switch.active:
                expires_ns = self._clock_ns() + self._ttl_ns
                self.patterns_handed_on += len(found)
                emit([dataclasses.replace(pattern, expires_ns=expires_ns) for pattern in found])
            if index % _CHECK_EVERY_BARS == 0 and self._timer_s() - started_s >= self._step_s:
                await asyncio.sleep(0)
                started_s = self._timer_s()
                self.steps += 1

    def observe(self, heartbeat_ns: int | None) -> bool:
        """Move the switch by the producer's heartbeat (UTC epoch ns, None when never seen) as of now."""
        return self.switch.observe(self._clock_ns(), heartbeat_ns)

    async def watch(self, heartbeat_ns: Callable[[], int | None], interval_s: float) -> None:
        """Until cancelled: observe the producer's heartbeat now and then every `interval_s` seconds."""
        while True:
            self.observe(heartbeat_ns())
            await asyncio.sleep(interval_s)

    def metric_samples(self) -> list[MetricSample]:
        """The switch's samples, and the patterns handed on."""
        return [
            *self.switch.metric_samples(),
            counter(
                "tickstock_pattern_fallback_patterns",
                "Fallback patterns handed on while the fallback detector was active.",
                self.patterns_handed_on,
            ),
        ]


@dataclass
class FallbackBarSink:
    """A `BarSink` in front of the bar writer that also feeds the fallback detector.

    The patterns that count go to `emit`: the pattern cache in the all-in-one server, the event log in
    an ingest process.
    """

    writer: BarSink
    feed: FallbackFeed
    emit: Callable[[Sequence[Pattern]], None]

    async def put(self, bars: Sequence[Bar]) -> None:
        """Run the bars through the detector (in steps), then hand them to the writer (its backpressure)."""
        await self.feed.detect(bars, self.emit)
        await self.writer.put(bars)
