"""Subscription filters: which events a subscriber receives. Pure predicates over domain events."""

from __future__ import annotations

from dataclasses import dataclass

from tickstock_server.domain.events import (
    Direction,
    Event,
    EventType,
    HighLowDetails,
    SurgeDetails,
    SurgeStrength,
    TrendDetails,
    TrendStrength,
)

_TREND_RANKS = {TrendStrength.WEAK: 0, TrendStrength.MODERATE: 1, TrendStrength.STRONG: 2}
_SURGE_RANKS = {SurgeStrength.WEAK: 0, SurgeStrength.MODERATE: 1, SurgeStrength.STRONG: 2}


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFilter:
    """A validated filter. Empty collections and None bounds select everything."""

    symbols: frozenset[str] = frozenset()
    """Resolved symbol set; empty selects every symbol."""
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

    def matches(self, event: Event) -> bool:
        """Whether the event passes every criterion (the symbol is checked by the hub's index).

        Each minimum applies to its own event type only: a minimum trend strength does not exclude highs.
        """
        if self.event_types and event.type not in self.event_types:
            return False
        if self.directions and event.direction not in self.directions:
            return False
        if self.min_price is not None and event.price < self.min_price:
            return False
        if self.max_price is not None and event.price > self.max_price:
            return False
        if self.min_volume is not None and event.volume < self.min_volume:
            return False
        if self.max_volume is not None and event.volume > self.max_volume:
            return False
        details = event.details
        if isinstance(details, HighLowDetails):
            return self.min_significance is None or details.significance_score >= self.min_significance
        if isinstance(details, TrendDetails):
            minimum = self.min_trend_strength
            return minimum is None or _TREND_RANKS[details.strength] >= _TREND_RANKS[minimum]
        if isinstance(details, SurgeDetails):
            minimum_surge = self.min_surge_strength
            return minimum_surge is None or _SURGE_RANKS[details.strength] >= _SURGE_RANKS[minimum_surge]
        return True
