"""Patterns as events of the event log: a pure conversion, so every role sequences them the same way.

A pattern has no direction, tick or detector configuration of its own; its event fills the common fields
by these rules:

- `event_id` is the pattern id: one pattern, one event.
- `direction` is the sign of the price change reported with the pattern: DOWN when negative, else UP
  (also when the producer reported none, which counts as 0).
- `price` is the price when detected, 0 when the producer did not report one (a `min_price` filter then
  excludes it); `volume` is 0.
- `ts_ns` is the detection time; the market status and period are those of that time.
- `detector_version` names the source (`PATTERN_DETECTORS`); the configuration hash is empty.
"""

from __future__ import annotations

from tickstock_server.domain.events import Direction, Event, EventType, PatternDetails
from tickstock_server.domain.market_session import MarketSession
from tickstock_server.domain.patterns import Pattern, PatternSource

PATTERN_DETECTORS: dict[PatternSource, str] = {
    PatternSource.PRODUCER: "tickstockpl",
    PatternSource.FALLBACK: "pattern_fallback/1",
}
"""`Event.detector_version` of a pattern event, by who detected the pattern."""


def pattern_details(pattern: Pattern) -> PatternDetails:
    """The details of `pattern`'s event (and of its proto `PatternDetails`)."""
    return PatternDetails(
        pattern_id=pattern.pattern_id,
        pattern_type=pattern.pattern_type,
        confidence=pattern.confidence,
        price_change_pct=pattern.price_change_pct,
        expires_ns=pattern.expires_ns,
        timeframe=pattern.timeframe,
        source=pattern.source,
        indicators=pattern.indicators,
        flow_id=pattern.flow_id,
    )


def pattern_event(pattern: Pattern, session: MarketSession) -> Event:
    """`pattern` as a PATTERN event (see the module docstring); `session` is that of its detection time."""
    return Event(
        event_id=pattern.pattern_id,
        symbol=pattern.symbol,
        type=EventType.PATTERN,
        direction=Direction.DOWN if pattern.price_change_pct < 0 else Direction.UP,
        price=pattern.price or 0.0,
        ts_ns=pattern.detected_ns,
        market_status=session.status,
        market_period=session.period,
        detector_version=PATTERN_DETECTORS[pattern.source],
        config_hash="",
        details=pattern_details(pattern),
        label=f"PATTERN {pattern.pattern_type}",
    )
