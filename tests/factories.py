"""Test data factories (Nautilus TestDataStubs style): valid domain values with overridable fields."""

from __future__ import annotations

import datetime as dt
from typing import Any

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
