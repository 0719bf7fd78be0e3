"""PatternService: the TTL cap, taking logged patterns once, the mirror's retry queue, warming the cache."""

from __future__ import annotations

import dataclasses

import pytest
from factories import HOUR_NS, NS_PER_S, PATTERN_NOW_NS, make_pattern

from tickstock_server.adapters.memory.patterns import MemoryPatternMirror
from tickstock_server.domain.patterns import Pattern
from tickstock_server.errors import DependencyUnavailableError
from tickstock_server.patterns.cache import PatternCache
from tickstock_server.patterns.service import PatternRules, PatternService

TTL_S = 600.0


def _service(*, mirror: MemoryPatternMirror | None = None, max_cached: int = 100) -> PatternService:
    return PatternService(
        cache=PatternCache(max_patterns=max_cached),
        mirror=mirror or MemoryPatternMirror(),
        rules=PatternRules(ttl_s=TTL_S),
        clock_ns=lambda: PATTERN_NOW_NS,
    )


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


def test_logged_patterns_the_cache_holds_are_not_taken_again() -> None:
    # Arrange: "a" was warmed from the mirror (no listener saw it); "b" is new
    service = _service()
    service.cache.put(make_pattern("a", expires_ns=PATTERN_NOW_NS + HOUR_NS), notify=False)
    notified: list[Pattern] = []
    service.cache.add_listener(notified.append)
    logged = [make_pattern(pattern_id, expires_ns=PATTERN_NOW_NS + HOUR_NS) for pattern_id in ("a", "b")]

    # Act
    taken = service.add_unseen(logged)
    again = service.add_unseen(logged)

    # Assert
    assert (taken, again) == (1, 0)
    assert [p.pattern_id for p in notified] == ["b"]
    assert service.unmirrored == 1


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
