"""Filter semantics: each criterion, AND across criteria, OR within a list."""

from __future__ import annotations

import pytest
from event_factories import make_event, make_surge_details, make_trend_details
from factories import REGULAR_TS_NS, make_pattern

from tickstock_server.delivery.filters import EventFilter
from tickstock_server.domain.events import Direction, Event, EventType, SurgeStrength, TrendStrength
from tickstock_server.domain.log_entry import EventFields, fields_of
from tickstock_server.domain.market_session import market_session_at
from tickstock_server.domain.pattern_events import pattern_event

BASE = make_event(price=50.0, volume=1000)
LOW = make_event(type=EventType.LOW, direction=Direction.DOWN, price=50.0, volume=1000)
MODERATE_TREND = make_event(type=EventType.TREND, details=make_trend_details(TrendStrength.MODERATE))
MODERATE_SURGE = make_event(type=EventType.SURGE, details=make_surge_details(SurgeStrength.MODERATE))
PATTERN = pattern_event(make_pattern(confidence=0.7, price=50.0), market_session_at(REGULAR_TS_NS))


@pytest.mark.parametrize(
    ("event_filter", "event", "expected"),
    [
        (EventFilter(), BASE, True),
        (EventFilter(event_types=frozenset({EventType.HIGH})), BASE, True),
        (EventFilter(event_types=frozenset({EventType.LOW})), BASE, False),
        (EventFilter(event_types=frozenset({EventType.LOW, EventType.HIGH})), LOW, True),
        (EventFilter(directions=frozenset({Direction.DOWN})), BASE, False),
        (EventFilter(directions=frozenset({Direction.DOWN})), LOW, True),
        (EventFilter(min_price=50.0), BASE, True),
        (EventFilter(min_price=50.01), BASE, False),
        (EventFilter(max_price=50.0), BASE, True),
        (EventFilter(max_price=49.99), BASE, False),
        (EventFilter(min_volume=1000, max_volume=1000), BASE, True),
        (EventFilter(min_volume=1001), BASE, False),
        (EventFilter(max_volume=999), BASE, False),
        (EventFilter(min_significance=42.0), BASE, True),
        (EventFilter(min_significance=42.01), BASE, False),
        (EventFilter(event_types=frozenset({EventType.HIGH}), min_price=60.0), BASE, False),
        (EventFilter(min_trend_strength=TrendStrength.WEAK), MODERATE_TREND, True),
        (EventFilter(min_trend_strength=TrendStrength.MODERATE), MODERATE_TREND, True),
        (EventFilter(min_trend_strength=TrendStrength.STRONG), MODERATE_TREND, False),
        (EventFilter(min_surge_strength=SurgeStrength.MODERATE), MODERATE_SURGE, True),
        (EventFilter(min_surge_strength=SurgeStrength.STRONG), MODERATE_SURGE, False),
        # Each minimum applies to its own event type only.
        (EventFilter(min_trend_strength=TrendStrength.STRONG), BASE, True),
        (EventFilter(min_trend_strength=TrendStrength.STRONG), MODERATE_SURGE, True),
        (EventFilter(min_surge_strength=SurgeStrength.STRONG), MODERATE_TREND, True),
        (EventFilter(min_significance=99.0), MODERATE_TREND, True),
        (EventFilter(event_types=frozenset({EventType.PATTERN})), PATTERN, True),
        (EventFilter(event_types=frozenset({EventType.PATTERN})), BASE, False),
        (EventFilter(min_pattern_confidence=0.7), PATTERN, True),
        (EventFilter(min_pattern_confidence=0.71), PATTERN, False),
        (EventFilter(min_pattern_confidence=0.99), BASE, True),
        (EventFilter(min_significance=99.0, min_surge_strength=SurgeStrength.STRONG), PATTERN, True),
        (EventFilter(min_price=50.01), PATTERN, False),
        (EventFilter(min_volume=1), PATTERN, False),
    ],
)
def test_filter_matches_as_documented(event_filter: EventFilter, event: Event, expected: bool) -> None:
    assert event_filter.matches(fields_of(event)) is expected


@pytest.mark.parametrize(
    ("symbols", "expected"),
    [
        (frozenset(), True),
        (frozenset({BASE.symbol}), True),
        (frozenset({"ZZZZ", BASE.symbol}), True),
        (frozenset({"ZZZZ"}), False),
    ],
)
def test_symbol_set_selects_only_its_symbols(symbols: frozenset[str], expected: bool) -> None:
    assert EventFilter(symbols=symbols).matches(fields_of(BASE)) is expected


def test_fields_carry_the_type_specific_score() -> None:
    assert fields_of(BASE).score == BASE.details.significance_score  # type: ignore[union-attr]
    assert fields_of(MODERATE_TREND).score == 1.0
    assert fields_of(MODERATE_SURGE) == EventFields(
        MODERATE_SURGE.symbol,
        "surge",
        MODERATE_SURGE.direction.value,
        MODERATE_SURGE.price,
        MODERATE_SURGE.volume,
        1.0,
    )
