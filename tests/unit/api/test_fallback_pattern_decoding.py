"""A gateway's decoding of logged PATTERN events: fallback patterns come back whole, anything else is None."""

from __future__ import annotations

import pytest
from event_factories import make_event
from factories import PATTERN_NOW_NS, make_pattern

from tickstock_server.api.mappers.events import encode_event
from tickstock_server.api.mappers.pattern_events import fallback_pattern_from_event
from tickstock_server.domain.market_calendar import MarketCalendar
from tickstock_server.domain.market_session import MarketClock
from tickstock_server.domain.pattern_events import pattern_event
from tickstock_server.domain.patterns import Pattern, PatternIndicators, PatternSource, PatternTimeframe

SESSIONS = MarketClock(MarketCalendar.every_weekday())


def _encoded(pattern: Pattern) -> bytes:
    event = pattern_event(pattern, SESSIONS.session_at(pattern.detected_ns))
    return encode_event(event, 7, PATTERN_NOW_NS, PATTERN_NOW_NS)


@pytest.mark.parametrize(
    "indicators",
    [PatternIndicators(), PatternIndicators(relative_strength=1.2, relative_volume=3.5, rsi=61.0)],
)
def test_a_fallback_pattern_event_decodes_to_the_pattern_it_was_made_of(
    indicators: PatternIndicators,
) -> None:
    pattern = make_pattern(
        "fb:AAPL:Doji:1",
        pattern_type="Doji",
        source=PatternSource.FALLBACK,
        timeframe=PatternTimeframe.INTRADAY,
        price_change_pct=-0.25,
        indicators=indicators,
    )

    assert fallback_pattern_from_event(_encoded(pattern)) == pattern


def test_a_fallback_pattern_without_a_price_or_timeframe_decodes_without_them() -> None:
    pattern = make_pattern("fb:x", source=PatternSource.FALLBACK, price=None, timeframe=None)

    assert fallback_pattern_from_event(_encoded(pattern)) == pattern


def test_a_producer_pattern_event_is_no_fallback_pattern() -> None:
    assert fallback_pattern_from_event(_encoded(make_pattern("from-producer"))) is None


def test_a_detector_event_is_no_fallback_pattern() -> None:
    assert fallback_pattern_from_event(encode_event(make_event(), 1, 0, 0)) is None


def test_bytes_that_do_not_decode_are_no_fallback_pattern() -> None:
    assert fallback_pattern_from_event(b"\xff\xff\xff") is None
