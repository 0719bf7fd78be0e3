"""Live pattern streams: the filter, heartbeats, and the end after an overflow."""

from __future__ import annotations

from typing import Any

import pytest
from factories import NS_PER_S

from tickstock_server.domain.patterns import Pattern, PatternSource, PatternTimeframe
from tickstock_server.errors import SubscriberOverloadedError
from tickstock_server.patterns.live_feed import PatternSubscription
from tickstock_server.patterns.scan import ScanQuery

NOW_NS = 1_780_000_000 * NS_PER_S


def _pattern(pattern_id: str, **overrides: Any) -> Pattern:
    fields: dict[str, Any] = {
        "pattern_id": pattern_id,
        "symbol": "AAPL",
        "pattern_type": "Bull_Flag",
        "confidence": 0.8,
        "price": 100.0,
        "price_change_pct": 0.0,
        "detected_ns": NOW_NS,
        "expires_ns": NOW_NS + 3600 * NS_PER_S,
        "timeframe": PatternTimeframe.DAILY,
        "source": PatternSource.PRODUCER,
    }
    return Pattern(**{**fields, **overrides})


async def test_only_patterns_the_filter_selects_are_delivered() -> None:
    subscription = PatternSubscription(ScanQuery(symbols=frozenset({"MSFT"})), capacity=5)

    subscription.offer(_pattern("a"))
    subscription.offer(_pattern("m", symbol="MSFT"))

    assert (await subscription.receive(1.0)).pattern_id == "m"  # type: ignore[union-attr]


async def test_silence_returns_none_for_a_heartbeat() -> None:
    subscription = PatternSubscription(ScanQuery(), capacity=5)

    assert await subscription.receive(0.001) is None


async def test_overflow_delivers_the_queued_patterns_then_ends_the_stream() -> None:
    # Arrange
    subscription = PatternSubscription(ScanQuery(), capacity=2)

    # Act: the third pattern does not fit, and nothing after it is queued
    for pattern_id in ("p1", "p2", "p3", "p4"):
        subscription.offer(_pattern(pattern_id))

    # Assert
    received = [await subscription.receive(1.0) for _ in range(2)]
    assert [p.pattern_id for p in received if p is not None] == ["p1", "p2"]
    with pytest.raises(SubscriberOverloadedError, match="its queue of 2 patterns overflowed"):
        await subscription.receive(1.0)
