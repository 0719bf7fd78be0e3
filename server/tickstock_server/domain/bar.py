"""The bar: open, high, low, close and volume of one symbol over one interval of event time."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    """An OHLCV bar.

    Bars of the aggregator are one UTC minute long and cumulative: a later revision of the same
    (symbol, start_ns) bar replaces the earlier one (it includes everything the earlier one had).
    """

    symbol: str
    start_ns: int
    """Start of the interval, UTC epoch nanoseconds (inclusive)."""
    open: float
    """Price of the first tick in the interval."""
    high: float
    low: float
    close: float
    """Price of the last tick in the interval."""
    volume: int
    """Shares traded in the interval (sum of the ticks' volumes)."""
    ticks: int
    """Ticks aggregated into the bar."""
