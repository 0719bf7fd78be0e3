"""A symbol's current detector state, sent to a subscriber before live events when it asks."""

from __future__ import annotations

from dataclasses import dataclass

from tickstock_server.domain.events import Direction, MarketStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolSnapshot:
    """Current state of one symbol's detectors."""

    symbol: str
    last_price: float
    last_tick_ns: int
    """Event time of the last tick, UTC epoch ns."""
    session_high: float | None
    session_low: float | None
    trend_direction: Direction | None
    """None when neutral."""
    trend_score: float
    """Combined trend score, -1 to 1."""
    surge_direction: Direction | None
    """Direction of a surge that has not expired yet; None when none."""
    market_status: MarketStatus
