"""The tick: one price/volume observation of one symbol at an event time."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    """A trade or aggregate of one symbol, as the detectors see it."""

    symbol: str
    """Ticker, upper case."""
    price: float
    """Last price (trade price, or the aggregate's close), > 0."""
    volume: int
    """Shares in this tick (the aggregate's volume), >= 0."""
    ts_ns: int
    """Event time: the exchange time stamp, UTC epoch nanoseconds."""
    received_ns: int = 0
    """Time the server received the tick, UTC epoch nanoseconds (0 when unknown). Never used by detectors."""
    vwap: float | None = None
    """Day volume-weighted average price, when the feed provides it."""
    open_price: float | None = None
    """The day's official open price, when the feed provides it."""
    accumulated_volume: int | None = None
    """Day volume so far, when the feed provides it."""
