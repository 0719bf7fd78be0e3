"""The minute boundary through the fallback detector: longest event-loop step, in steps and in one piece.

Usage: .venv/bin/python bench/fallback_steps.py [--symbols 4000] [--minutes 30] [--seed 1]

Each minute hands every symbol's completed bar (a seeded random walk, so candlestick patterns occur at
a realistic rate) to `FallbackBarSink` with the switch active, the way the ingest process does: the
detector, then each pattern appended to an event log as a PATTERN event (encoded, as the ingest does).
A probe task runs between the steps and records the loop time between its turns, i.e. each step's
length (its own turn is negligible); reported are the median over minutes of each minute's longest step,
and the 99th percentile and maximum of all steps (a shared machine's preemption and garbage collection
show in the maximum). The same minutes are then run in one piece (no yielding), as before issue #15's fix.

Prints one `name: value unit` line per figure.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Sequence

from tickstock_server.api.mappers.events import encode_event
from tickstock_server.app.pattern_events import PatternEventLog
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.domain.bar import Bar
from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.domain.market_calendar import MarketCalendar
from tickstock_server.patterns.fallback import FallbackPatternDetector
from tickstock_server.patterns.fallback_feed import FallbackBarSink, FallbackFeed
from tickstock_server.patterns.fallback_switch import FallbackSwitch

START_NS = 1_780_000_000 * 1_000_000_000
MINUTE_NS = 60 * 1_000_000_000


class _NoWriter:
    async def put(self, bars: Sequence[Bar]) -> None:
        """The bar writer's hand-off is measured by bench/writer.py."""


def _minutes(symbols: int, minutes: int, seed: int) -> list[list[Bar]]:
    rng = random.Random(seed)
    closes = [rng.uniform(10, 500) for _ in range(symbols)]
    result = []
    for minute in range(minutes):
        bars = []
        for index in range(symbols):
            open_ = closes[index] * (1 + rng.gauss(0, 0.004))
            close = open_ * (1 + rng.gauss(0, 0.004))
            high = max(open_, close) * (1 + abs(rng.gauss(0, 0.002)))
            low = min(open_, close) * (1 - abs(rng.gauss(0, 0.002)))
            volume = int(rng.lognormvariate(8, 1))
            bars.append(
                Bar(
                    symbol=f"S{index:05d}",
                    start_ns=START_NS + minute * MINUTE_NS,
                    open=open_,
                    high=high,
                    low=low,
                    close=close,
                    volume=volume,
                    ticks=10,
                )  # fmt: skip
            )
            closes[index] = close
        result.append(bars)
    return result


async def _probe(stop: asyncio.Event) -> list[float]:
    """Until `stop` is set: the loop time between two turns of this task, seconds."""
    gaps: list[float] = []
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    return gaps


async def _run(minutes: list[list[Bar]], step_s: float) -> tuple[list[list[float]], int, int]:
    """Every loop step of each minute (ms), patterns appended, and steps taken."""
    feed = FallbackFeed(
        detector=FallbackPatternDetector(),
        switch=FallbackSwitch(activate_after_s=1, stand_down_after_s=2, startup_grace_s=0),
        ttl_s=3600,
        clock_ns=time.time_ns,
        step_s=step_s,
    )
    feed.observe(None)
    stored: list[LogEntry] = []
    log = EventLog(encode_event, capacity=100_000)
    events = PatternEventLog(
        log, hub=None, persist=stored.extend, calendar=MarketCalendar.every_weekday(), remember=1_000_000
    )
    sink = FallbackBarSink(_NoWriter(), feed, events.append_all)
    steps: list[list[float]] = []
    for bars in minutes:
        stop = asyncio.Event()
        probing = asyncio.create_task(_probe(stop))
        await asyncio.sleep(0)
        await sink.put(bars)
        stop.set()
        steps.append([gap * 1000 for gap in await probing])
    return steps, len(stored), feed.steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=4000)
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    minutes = _minutes(args.symbols, args.minutes, args.seed)
    for name, step_s in (("stepped", 0.002), ("one_piece", 3600.0)):
        by_minute, patterns, steps = asyncio.run(_run(minutes, step_s))
        warm = by_minute[5:] or by_minute  # the first minutes have no volume history yet
        every = sorted(gap for minute in warm for gap in minute)
        longest = [max(minute) for minute in warm]
        print(f"fallback_{name}_longest_step_median_minute: {statistics.median(longest):.2f} ms")
        print(f"fallback_{name}_step_p99: {every[int(len(every) * 0.99)]:.2f} ms")
        print(f"fallback_{name}_step_max: {every[-1]:.2f} ms")
        print(f"fallback_{name}_patterns_per_minute: {patterns / len(minutes):.0f} patterns")
        print(f"fallback_{name}_steps_per_minute: {steps / len(minutes):.1f} steps")


if __name__ == "__main__":
    main()
