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
    SurgeDetails,
    SurgeMode,
    SurgeStrength,
    SurgeThresholds,
    SurgeTrigger,
    TrendDetails,
    TrendStrength,
    TrendThresholds,
    VwapPosition,
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


def make_trend_details(strength: TrendStrength = TrendStrength.MODERATE, **overrides: Any) -> TrendDetails:
    """Valid details of an upward trend; keyword arguments replace any field."""
    fields: dict[str, Any] = {
        "strength": strength,
        "score": 0.05,
        "short_score": 0.08,
        "medium_score": 0.04,
        "long_score": 0.03,
        "vwap_position": VwapPosition.ABOVE,
        "age_ns": 90 * 10**9,
        "thresholds": TrendThresholds(
            direction_threshold=0.0225,
            strength_threshold=0.0525,
            volatility_multiplier=1.0,
            emission_interval_ns=90 * 10**9,
            min_points_per_window=8,
        ),
    }
    fields.update(overrides)
    return TrendDetails(**fields)


def make_surge_details(strength: SurgeStrength = SurgeStrength.STRONG, **overrides: Any) -> SurgeDetails:
    """Valid details of an upward price-and-volume surge; keyword arguments replace any field."""
    fields: dict[str, Any] = {
        "magnitude": 2.5,
        "score": 100.0,
        "strength": strength,
        "trigger": SurgeTrigger.PRICE_AND_VOLUME,
        "volume_multiplier": 4.2,
        "baseline_price": 146.34,
        "expire_ns": TS_NS + 30 * 10**9,
        "daily_count": 1,
        "description": "up price & volume",
        "thresholds": SurgeThresholds(
            min_percent_change=1.6,
            min_price_change=0.6,
            min_volume_multiplier=3.0,
            mode=SurgeMode.STRICT,
            baseline_interval_ns=20 * 10**9,
        ),
    }
    fields.update(overrides)
    return SurgeDetails(**fields)
