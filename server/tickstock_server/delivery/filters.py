"""Subscription filters: which events a subscriber receives. Pure predicates over an event's fields."""

from __future__ import annotations

from dataclasses import dataclass, field

from tickstock_server.domain.events import Direction, EventType, SurgeStrength, TrendStrength
from tickstock_server.domain.log_entry import STRENGTH_RANKS, EventFields

_HIGH, _LOW, _TREND, _SURGE, _PATTERN = (
    t.value for t in (EventType.HIGH, EventType.LOW, EventType.TREND, EventType.SURGE, EventType.PATTERN)
)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFilter:
    """A validated, resolved filter. Empty collections and None bounds select everything."""

    symbols: frozenset[str] = frozenset()
    """Resolved symbol set (symbols, universes and watchlists expanded); empty selects every symbol."""
    event_types: frozenset[EventType] = frozenset()
    directions: frozenset[Direction] = frozenset()
    min_significance: float | None = None
    """Minimum significance of HIGH/LOW events, 0 to 100."""
    min_trend_strength: TrendStrength | None = None
    """Minimum strength of TREND events."""
    min_surge_strength: SurgeStrength | None = None
    """Minimum strength of SURGE events."""
    min_pattern_confidence: float | None = None
    """Minimum confidence of PATTERN events, 0 to 1."""
    min_price: float | None = None
    max_price: float | None = None
    min_volume: int | None = None
    max_volume: int | None = None
    type_values: frozenset[str] = field(init=False, repr=False, compare=False)
    """`event_types` as the values `EventFields.type` holds."""
    direction_values: frozenset[str] = field(init=False, repr=False, compare=False)
    """`directions` as the values `EventFields.direction` holds."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "type_values", frozenset(t.value for t in self.event_types))
        object.__setattr__(self, "direction_values", frozenset(d.value for d in self.directions))

    def matches(self, fields: EventFields) -> bool:
        """Whether the event passes every criterion.

        Each minimum applies to its own event type only: a minimum trend strength does not exclude highs.
        """
        if self.symbols and fields.symbol not in self.symbols:
            return False
        if self.type_values and fields.type not in self.type_values:
            return False
        if self.direction_values and fields.direction not in self.direction_values:
            return False
        if self.min_price is not None and fields.price < self.min_price:
            return False
        if self.max_price is not None and fields.price > self.max_price:
            return False
        if self.min_volume is not None and fields.volume < self.min_volume:
            return False
        if self.max_volume is not None and fields.volume > self.max_volume:
            return False
        event_type = fields.type
        if event_type in (_HIGH, _LOW):
            return self.min_significance is None or fields.score >= self.min_significance
        if event_type == _TREND:
            trend = self.min_trend_strength
            return trend is None or fields.score >= STRENGTH_RANKS[trend]
        if event_type == _SURGE:
            surge = self.min_surge_strength
            return surge is None or fields.score >= STRENGTH_RANKS[surge]
        if event_type == _PATTERN:
            return self.min_pattern_confidence is None or fields.score >= self.min_pattern_confidence
        return True
