"""PatternService: the TTL cap, the fallback's gating, the mirror's retry queue and warming the cache."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest
from factories import HOUR_NS, NS_PER_S, PATTERN_NOW_NS, make_pattern

from tickstock_server.adapters.memory.patterns import MemoryPatternMirror
from tickstock_server.domain.bar import Bar
from tickstock_server.domain.patterns import Pattern, PatternSource
from tickstock_server.errors import DependencyUnavailableError
from tickstock_server.patterns.cache import PatternCache
from tickstock_server.patterns.fallback import FallbackPatternDetector
from tickstock_server.patterns.fallback_switch import FallbackSwitch
from tickstock_server.patterns.scan import ScanQuery
from tickstock_server.patterns.service import FallbackBarSink, PatternRules, PatternService

TTL_S = 600.0
DOJI = Bar(
    symbol="AAPL",
    start_ns=PATTERN_NOW_NS - 7 * HOUR_NS,
    open=100.0,
    high=101.0,
    low=99.0,
    close=100.1,
    volume=1000,
    ticks=10,
)
"""A bar that completes a Doji (body 0.1 within a range of 2), hours before now: bars run on event time."""


def _service(
    *, mirror: MemoryPatternMirror | None = None, max_cached: int = 100, fallback: bool = True
) -> PatternService:
    return PatternService(
        cache=PatternCache(max_patterns=max_cached),
        mirror=mirror or MemoryPatternMirror(),
        switch=FallbackSwitch(activate_after_s=90, stand_down_after_s=180, startup_grace_s=30),
        fallback=FallbackPatternDetector(ttl_s=round(TTL_S)) if fallback else None,
        rules=PatternRules(ttl_s=TTL_S),
        producer_heartbeat_ns=lambda: None,
        clock_ns=lambda: PATTERN_NOW_NS,
    )


def _activate_fallback(service: PatternService) -> None:
    service.switch.observe(PATTERN_NOW_NS - 60 * NS_PER_S, None)
    assert service.switch.observe(PATTERN_NOW_NS, None)


def test_a_producer_expiry_beyond_the_ttl_is_cut_to_it() -> None:
    # Arrange
    service = _service()
    three_days = make_pattern("long", expires_ns=PATTERN_NOW_NS + 72 * HOUR_NS)
    short = make_pattern("short", expires_ns=PATTERN_NOW_NS + 60 * NS_PER_S)

    # Act
    service.add_patterns([three_days, short])

    # Assert
    assert service.cache.get("long") == dataclasses.replace(
        three_days, expires_ns=PATTERN_NOW_NS + round(TTL_S * NS_PER_S)
    )
    assert service.cache.get("short") == short


async def test_added_patterns_reach_the_mirror_on_flush() -> None:
    # Arrange
    mirror = MemoryPatternMirror()
    service = _service(mirror=mirror)
    service.add_patterns([make_pattern("a", expires_ns=PATTERN_NOW_NS + 60 * NS_PER_S)])

    # Act
    await service.flush_mirror()

    # Assert
    assert [p.pattern_id for p in await mirror.load(PATTERN_NOW_NS)] == ["a"]
    assert service.unmirrored == 0


async def test_while_the_mirror_is_down_patterns_wait_and_are_written_once_it_is_back() -> None:
    # Arrange
    mirror = MemoryPatternMirror()
    service = _service(mirror=mirror)
    service.add_patterns([make_pattern("a", expires_ns=PATTERN_NOW_NS + 60 * NS_PER_S)])
    mirror.available = False

    # Act
    with pytest.raises(DependencyUnavailableError):
        await service.flush_mirror()
    waiting = service.unmirrored
    service.add_patterns([make_pattern("b", expires_ns=PATTERN_NOW_NS + 60 * NS_PER_S)])
    mirror.available = True
    await service.flush_mirror()

    # Assert
    assert waiting == 1
    assert sorted(p.pattern_id for p in await mirror.load(PATTERN_NOW_NS)) == ["a", "b"]


async def test_the_retry_queue_keeps_at_most_the_newest_patterns_the_cache_can_hold() -> None:
    # Arrange
    mirror = MemoryPatternMirror()
    service = _service(mirror=mirror, max_cached=3)
    mirror.available = False
    service.add_patterns([make_pattern(f"p{i}", expires_ns=PATTERN_NOW_NS + HOUR_NS) for i in range(5)])

    # Act
    with pytest.raises(DependencyUnavailableError):
        await service.flush_mirror()
    mirror.available = True
    await service.flush_mirror()

    # Assert
    assert sorted(p.pattern_id for p in await mirror.load(PATTERN_NOW_NS)) == ["p2", "p3", "p4"]


def test_fallback_patterns_are_not_cached_while_the_producer_is_heard() -> None:
    # Arrange
    service = _service()

    # Act
    service.detect_fallback([DOJI])

    # Assert
    assert len(service.cache) == 0


def test_while_the_fallback_is_active_its_patterns_are_current_from_now_for_the_ttl() -> None:
    # Arrange
    service = _service()
    _activate_fallback(service)

    # Act
    service.detect_fallback([DOJI])

    # Assert
    assert [(p.pattern_type, p.source, p.expires_ns) for p in _cached(service)] == [
        ("Doji", PatternSource.FALLBACK, PATTERN_NOW_NS + round(TTL_S * NS_PER_S))
    ]


def _cached(service: PatternService) -> list[Pattern]:
    return list(service.cache.scan(ScanQuery(page_size=100), PATTERN_NOW_NS).patterns)


async def test_warming_fills_the_cache_without_notifying_listeners() -> None:
    # Arrange
    mirror = MemoryPatternMirror()
    await mirror.store([make_pattern("a", expires_ns=PATTERN_NOW_NS + HOUR_NS)])
    service = _service(mirror=mirror)
    notified: list[Pattern] = []
    service.cache.add_listener(notified.append)

    # Act
    await service.warm()

    # Assert
    assert service.cache.get("a") is not None
    assert notified == []


async def test_warming_from_an_unreachable_mirror_starts_empty() -> None:
    # Arrange
    mirror = MemoryPatternMirror()
    mirror.available = False
    service = _service(mirror=mirror)

    # Act
    await service.warm()

    # Assert
    assert len(service.cache) == 0


class _Writer:
    def __init__(self) -> None:
        self.bars: list[Bar] = []

    async def put(self, bars: Sequence[Bar]) -> None:
        self.bars += bars


async def test_the_bar_sink_hands_bars_to_the_writer_and_the_detector() -> None:
    # Arrange
    service = _service()
    _activate_fallback(service)
    writer = _Writer()

    # Act
    await FallbackBarSink(writer, service).put([DOJI])

    # Assert
    assert writer.bars == [DOJI]
    assert [p.pattern_type for p in _cached(service)] == ["Doji"]
