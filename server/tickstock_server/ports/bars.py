"""Ports for bars: reading stored and unstored bars, and the sink completed bars go to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.bar_intervals import BarInterval


class BarReader(Protocol):
    """Reads bars of one symbol, stored and not yet stored alike."""

    async def get_bars(
        self,
        symbol: str,
        interval: BarInterval,
        start_ns: int,
        end_ns: int,
        *,
        limit: int,
        after_ns: int | None = None,
    ) -> tuple[list[Bar], bool]:
        """Return up to `limit` bars, oldest first, and whether more follow.

        Bars start in [start_ns, end_ns) and, when `after_ns` is given (paging), after it.
        """
        ...

    async def newest_bar_ns(self, symbol: str) -> int | None:
        """Start of the symbol's newest one-minute bar held (stored or not), UTC epoch ns; None if none."""
        ...


class BarSink(Protocol):
    """Takes completed one-minute bars (cumulative revisions) for storage."""

    async def put(self, bars: Sequence[Bar]) -> None:
        """Accept bars; waits while the sink is full (backpressure), never drops."""
        ...


class MinuteBarHistory(Protocol):
    """Reads stored one-minute bars of many symbols in time order (what the bars feed replays)."""

    async def symbols_between(self, start_ns: int, end_ns: int) -> list[str]:
        """The symbols with a stored bar starting in [`start_ns`, `end_ns`), sorted."""
        ...

    async def minute_bars(self, symbols: Sequence[str], start_ns: int, end_ns: int) -> list[Bar]:
        """The stored bars of `symbols` starting in [`start_ns`, `end_ns`), ordered by (start, symbol)."""
        ...
