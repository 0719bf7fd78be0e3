"""The ticks a one-minute bar stands for: its likely price path, open to close, with its volume split."""

from __future__ import annotations

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.tick import Tick
from tickstock_server.support.time_units import NS_PER_S

__all__ = ["TICK_OFFSETS_NS", "ticks_from_bar"]

TICK_OFFSETS_NS = (0, 15 * NS_PER_S, 30 * NS_PER_S, 45 * NS_PER_S)
"""Event times of a bar's four ticks after the bar's start: open, first extreme, second extreme, close."""


def ticks_from_bar(bar: Bar) -> list[Tick]:
    """The four ticks of `bar`, in time order: open, then low and high, then close.

    A bar that closes at or above its open most likely went down first and then up, so the low comes
    before the high; a bar that closes below its open gets the high first. The ticks are at
    `TICK_OFFSETS_NS` after the bar's start (within its minute, so aggregating them rebuilds the bar).
    The volume is split evenly in whole shares; the remainder goes to the close. The same bar always
    gives the same ticks: each tick's `received_ns` is its event time.
    """
    extremes = (bar.low, bar.high) if bar.close >= bar.open else (bar.high, bar.low)
    prices = (bar.open, *extremes, bar.close)
    share, remainder = divmod(bar.volume, len(prices))
    volumes = (share, share, share, share + remainder)
    return [
        Tick(
            symbol=bar.symbol,
            price=price,
            volume=volume,
            ts_ns=bar.start_ns + offset_ns,
            received_ns=bar.start_ns + offset_ns,
        )
        for price, volume, offset_ns in zip(prices, volumes, TICK_OFFSETS_NS, strict=True)
    ]
