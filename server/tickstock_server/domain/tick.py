"""The tick: one price/volume observation of one symbol at an event time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(init=False, slots=True, unsafe_hash=True)
class Tick:
    """A trade or aggregate of one symbol, as the detectors see it.

    Immutable: every field is `Final`, which mypy enforces everywhere and the compiled build also at run
    time (its attributes are read-only). The `__init__` is written out rather than generated: a frozen
    dataclass's generated one sets each field through `object.__setattr__`, about 2 us a tick, while the
    compiled one stores them directly, about 60 ns. Equality, hashing, `repr` and `dataclasses.replace`
    are the dataclass's, over the fields.
    """

    symbol: Final[str]
    """Ticker, upper case."""
    price: Final[float]
    """Last price (trade price, or the aggregate's close), > 0."""
    volume: Final[int]
    """Shares in this tick (the aggregate's volume), >= 0."""
    ts_ns: Final[int]
    """Event time: the exchange time stamp, UTC epoch nanoseconds."""
    received_ns: Final[int]
    """Time the server received the tick, UTC epoch nanoseconds (0 when unknown). Never used by detectors."""
    vwap: Final[float | None]
    """Day volume-weighted average price, when the feed provides it."""
    open_price: Final[float | None]
    """The day's official open price, when the feed provides it."""
    accumulated_volume: Final[int | None]
    """Day volume so far, when the feed provides it."""

    def __init__(
        self,
        *,
        symbol: str,
        price: float,
        volume: int,
        ts_ns: int,
        received_ns: int = 0,
        vwap: float | None = None,
        open_price: float | None = None,
        accumulated_volume: int | None = None,
    ) -> None:
        self.symbol = symbol
        self.price = price
        self.volume = volume
        self.ts_ns = ts_ns
        self.received_ns = received_ns
        self.vwap = vwap
        self.open_price = open_price
        self.accumulated_volume = accumulated_volume
