"""Subscription filters: which events a subscriber receives. Pure predicates over an event's fields."""

from __future__ import annotations

from dataclasses import dataclass

from tickstock_server.delivery.event_log import STRENGTH_RANKS, EventFields
from tickstock_server.domain.events import Direction, EventType, SurgeStrength, TrendStrength


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
    min_price: float | None = None
    max_price: float | None = None
    min_volume: int | None = None
    max_volume: int | None = None

    def matches(self, fields: EventFields) -> bool:
        """Whether the event passes every criterion.

        Each minimum applies to its own event type only: a minimum trend strength does not exclude highs.
        """
        if self.symbols and fields.symbol not in self.symbols:
            return False
        if self.event_types and fields.type not in self.event_types:
            return False
        if self.directions and fields.direction not in self.directions:
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
        if event_type is EventType.HIGH or event_type is EventType.LOW:
            return self.min_significance is None or fields.score >= self.min_significance
        if event_type is EventType.TREND:
            trend = self.min_trend_strength
            return trend is None or fields.score >= STRENGTH_RANKS[trend]
        if event_type is EventType.SURGE:
            surge = self.min_surge_strength
            return surge is None or fields.score >= STRENGTH_RANKS[surge]
        return True
