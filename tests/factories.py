"""Test data factories (Nautilus TestDataStubs style): valid domain values with overridable fields."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tickstock_server.domain.patterns import Pattern, PatternSource, PatternTimeframe
from tickstock_server.domain.tick import Tick

NS_PER_S = 1_000_000_000


def ns_at(iso_utc: str) -> int:
    """Return the UTC epoch nanoseconds of an ISO-8601 UTC time such as "2026-01-06T15:00:00"."""
    moment = dt.datetime.fromisoformat(iso_utc).replace(tzinfo=dt.UTC)
    return int(moment.timestamp()) * NS_PER_S + moment.microsecond * 1000


REGULAR_TS_NS = ns_at("2026-01-06T15:00:00")
"""Tuesday 2026-01-06 10:00 ET: regular session, midday period."""


def make_tick(**overrides: Any) -> Tick:
    """Return a valid AAPL tick at `REGULAR_TS_NS`; keyword arguments replace any field."""
    fields: dict[str, Any] = {
        "symbol": "AAPL",
        "price": 100.0,
        "volume": 100,
        "ts_ns": REGULAR_TS_NS,
    }
    fields.update(overrides)
    return Tick(**fields)


PATTERN_NOW_NS = 1_780_000_000 * NS_PER_S
"""The "now" of pattern tests (2026-05-28): patterns from `make_pattern` are current at it."""
HOUR_NS = 3_600 * NS_PER_S


def make_pattern(pattern_id: str = "p", **overrides: Any) -> Pattern:
    """A producer's daily Bull_Flag on AAPL, detected a minute before `PATTERN_NOW_NS`, current an hour."""
    fields: dict[str, Any] = {
        "pattern_id": pattern_id,
        "symbol": "AAPL",
        "pattern_type": "Bull_Flag",
        "confidence": 0.8,
        "price": 100.0,
        "price_change_pct": 0.0,
        "detected_ns": PATTERN_NOW_NS - 60 * NS_PER_S,
        "expires_ns": PATTERN_NOW_NS + HOUR_NS,
        "timeframe": PatternTimeframe.DAILY,
        "source": PatternSource.PRODUCER,
    }
    fields.update(overrides)
    return Pattern(**fields)
