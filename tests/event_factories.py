"""Factory of valid domain events for tests; keyword arguments replace any field."""

from __future__ import annotations

from typing import Any

from tickstock_server.domain.events import (
    Direction,
    Event,
    EventType,
    HighLowDetails,
    HighLowThresholds,
    MarketPeriod,
    MarketStatus,
)

TS_NS = 1_767_711_600_000_000_000  # 2026-01-06T15:00:00Z


def make_event(symbol: str = "AAPL", *, price: float = 100.0, ts_ns: int = TS_NS, **overrides: Any) -> Event:
    """A valid HIGH event; keyword arguments replace any field."""
    fields: dict[str, Any] = {
        "event_id": f"{symbol}-high-{ts_ns}",
        "symbol": symbol,
        "type": EventType.HIGH,
        "direction": Direction.UP,
        "price": price,
        "ts_ns": ts_ns,
        "market_status": MarketStatus.REGULAR,
        "market_period": MarketPeriod.MIDDAY,
        "detector_version": "high_low/1",
        "config_hash": "abc123",
        "volume": 500,
        "details": HighLowDetails(
            session_high=price,
            session_low=price - 1,
            previous_high=price - 0.5,
            previous_low=price - 1,
            significance_score=42.0,
            trend_flag=None,
            surge_flag=None,
            reversal_info=None,
            thresholds=HighLowThresholds(min_price_change=0.05, min_percent_change=0.08, cooldown_ns=10**9),
        ),
    }
    fields.update(overrides)
    return Event(**fields)
