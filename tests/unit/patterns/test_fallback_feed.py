"""FallbackFeed: the switch gates the fallback's patterns, their expiry, steps that yield, the bar sink."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence

from factories import HOUR_NS, NS_PER_S, PATTERN_NOW_NS

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.patterns import Pattern, PatternSource
from tickstock_server.patterns.fallback import FallbackPatternDetector
from tickstock_server.patterns.fallback_feed import FallbackBarSink, FallbackFeed
from tickstock_server.patterns.fallback_switch import FallbackSwitch

TTL_S = 600.0
BAR_START_NS = PATTERN_NOW_NS - 7 * HOUR_NS
"""Bars hours before now: bars run on event time, the patterns' expiry on the wall clock."""


def _doji(symbol: str = "AAPL", minute: int = 0) -> Bar:
    """A bar that completes a Doji (body 0.1 within a range of 2)."""
    return Bar(
        symbol=symbol,
        start_ns=BAR_START_NS + minute * 60 * NS_PER_S,
        open=100.0,
        high=101.0,
        low=99.0,
        close=100.1,
        volume=1000,
        ticks=10,
    )


class _Clock:
    def __init__(self) -> None:
        self.now_ns = PATTERN_NOW_NS

    def __call__(self) -> int:
        return self.now_ns


def _feed(
    clock: _Clock, *, step_s: float = 0.002, timer_s: Callable[[], float] = time.perf_counter
) -> FallbackFeed:
    return FallbackFeed(
        detector=FallbackPatternDetector(ttl_s=round(TTL_S)),
        switch=FallbackSwitch(activate_after_s=90, stand_down_after_s=180, startup_grace_s=30),
        ttl_s=TTL_S,
        clock_ns=clock,
        step_s=step_s,
        timer_s=timer_s,
    )


def _silent_producer(feed: FallbackFeed, clock: _Clock) -> None:
    """The producer never beat: the fallback activates once the start-up grace has passed."""
    feed.observe(None)
    clock.now_ns += 31 * NS_PER_S
    assert feed.observe(None)


async def test_patterns_are_not_handed_on_while_the_producer_is_heard() -> None:
    # Arrange
    clock = _Clock()
    feed = _feed(clock)
    feed.observe(clock.now_ns - 10 * NS_PER_S)  # a heartbeat 10 s old
    emitted: list[Pattern] = []

    # Act
    await feed.detect([_doji()], emitted.extend)

    # Assert
    assert emitted == []
    assert feed.patterns_handed_on == 0


async def test_while_the_producer_is_silent_patterns_are_current_from_now_for_the_ttl() -> None:
    # Arrange
    clock = _Clock()
    feed = _feed(clock)
    _silent_producer(feed, clock)
    emitted: list[Pattern] = []

    # Act
    await feed.detect([_doji()], emitted.extend)

    # Assert
    assert [(p.pattern_type, p.source, p.expires_ns) for p in emitted] == [
        ("Doji", PatternSource.FALLBACK, clock.now_ns + round(TTL_S * NS_PER_S))
    ]
    assert feed.patterns_handed_on == 1


async def test_the_switch_follows_the_producer_heartbeat_it_is_watching() -> None:
    # Arrange: the producer last beat 100 s ago (activation after 90 s)
    clock = _Clock()
    feed = _feed(clock)
    heartbeat_ns = clock.now_ns - 100 * NS_PER_S

    # Act
    watching = asyncio.create_task(feed.watch(lambda: heartbeat_ns, 60.0))
    await asyncio.sleep(0)
    watching.cancel()

    # Assert
    assert feed.switch.active
    assert {s.name: s.value for s in feed.metric_samples()}["tickstock_pattern_fallback_active"] == 1.0


async def test_a_minute_of_many_bars_is_detected_in_steps_that_yield_and_miss_nothing() -> None:
    # Arrange: a timer that advances 1 ms at every look; the feed looks every 16 bars, so a step of at
    # most 1.5 ms ends at its second look, after 32 bars
    clock = _Clock()
    ticks = itertools.count()
    stepped = _feed(clock, step_s=0.0015, timer_s=lambda: next(ticks) / 1000)
    whole = _feed(clock, step_s=3600.0)
    _silent_producer(stepped, clock)
    _silent_producer(whole, clock)
    bars = [_doji(f"S{index:04d}") for index in range(1000)]
    from_steps: list[list[Pattern]] = []
    from_whole: list[Pattern] = []
    other_work_ran: list[int] = []

    async def other_work() -> None:
        while True:
            other_work_ran.append(len(from_steps))
            await asyncio.sleep(0)

    # Act
    other = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    await stepped.detect(bars, lambda found: from_steps.append(list(found)))
    other.cancel()
    await whole.detect(bars, from_whole.extend)

    # Assert
    assert [p for step in from_steps for p in step] == from_whole
    assert len(from_whole) == 1000
    assert stepped.steps == 32  # 1,000 bars in steps of 32
    assert len(set(other_work_ran)) == 32, "the event loop ran other work between the steps"


class _Writer:
    def __init__(self) -> None:
        self.bars: list[Bar] = []

    async def put(self, bars: Sequence[Bar]) -> None:
        self.bars += bars


async def test_the_bar_sink_hands_bars_to_the_detector_and_then_the_writer() -> None:
    # Arrange
    clock = _Clock()
    feed = _feed(clock)
    _silent_producer(feed, clock)
    writer = _Writer()
    emitted: list[Pattern] = []

    # Act
    await FallbackBarSink(writer, feed, emitted.extend).put([_doji()])

    # Assert
    assert writer.bars == [_doji()]
    assert [p.pattern_type for p in emitted] == ["Doji"]
