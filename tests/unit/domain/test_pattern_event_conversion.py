"""Patterns as PATTERN events: the common fields' rules, the details, and the fields filters see."""

from __future__ import annotations

from typing import Any

import pytest
from factories import REGULAR_TS_NS, make_pattern, ns_at

from tickstock_server.domain.events import (
    Direction,
    Event,
    EventType,
    MarketPeriod,
    MarketStatus,
    PatternDetails,
)
from tickstock_server.domain.log_entry import EventFields, fields_of
from tickstock_server.domain.market_session import market_session_at
from tickstock_server.domain.pattern_events import pattern_event
from tickstock_server.domain.patterns import PatternIndicators, PatternSource, PatternTimeframe

INDICATORS = PatternIndicators(relative_strength=1.2, relative_volume=None, rsi=61.0)


def _event(**overrides: Any) -> Event:
    pattern = make_pattern("p-1", detected_ns=REGULAR_TS_NS, **overrides)
    return pattern_event(pattern, market_session_at(pattern.detected_ns))


def test_a_pattern_is_one_event_with_its_id_symbol_price_and_detection_time() -> None:
    event = _event(price=101.5, price_change_pct=1.25, indicators=INDICATORS, flow_id="flow-7")

    assert (event.event_id, event.symbol, event.type) == ("p-1", "AAPL", EventType.PATTERN)
    assert (event.price, event.ts_ns, event.volume) == (101.5, REGULAR_TS_NS, 0)
    assert (event.market_status, event.market_period) == (MarketStatus.REGULAR, MarketPeriod.MIDDAY)
    assert (event.detector_version, event.config_hash) == ("tickstockpl", "")
    assert event.label == "PATTERN Bull_Flag"
    assert event.details == PatternDetails(
        pattern_id="p-1",
        pattern_type="Bull_Flag",
        confidence=0.8,
        price_change_pct=1.25,
        expires_ns=make_pattern().expires_ns,
        timeframe=PatternTimeframe.DAILY,
        source=PatternSource.PRODUCER,
        indicators=INDICATORS,
        flow_id="flow-7",
    )


@pytest.mark.parametrize(
    ("price_change_pct", "direction"),
    [(2.5, Direction.UP), (0.0, Direction.UP), (-0.01, Direction.DOWN)],
)
def test_the_direction_is_the_sign_of_the_reported_price_change(
    price_change_pct: float, direction: Direction
) -> None:
    assert _event(price_change_pct=price_change_pct).direction is direction


def test_a_pattern_without_a_price_has_price_zero() -> None:
    assert _event(price=None).price == 0.0


def test_the_market_session_is_that_of_the_detection_time() -> None:
    pattern = make_pattern(detected_ns=ns_at("2026-01-10T15:00:00"))  # a Saturday

    event = pattern_event(pattern, market_session_at(pattern.detected_ns))

    assert (event.market_status, event.market_period) == (MarketStatus.CLOSED, MarketPeriod.CLOSED)


def test_the_fallback_detector_is_named_as_the_detector() -> None:
    event = _event(source=PatternSource.FALLBACK, timeframe=None)

    assert event.detector_version == "pattern_fallback/1"
    assert isinstance(event.details, PatternDetails) and event.details.timeframe is None


def test_filters_see_symbol_type_direction_price_no_volume_and_the_confidence_as_score() -> None:
    event = _event(price=42.0, price_change_pct=-3.0, confidence=0.65)

    assert fields_of(event) == EventFields("AAPL", "pattern", "down", 42.0, 0, 0.65)
