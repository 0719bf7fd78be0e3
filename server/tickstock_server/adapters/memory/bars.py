"""In-memory fake of the bar reader port: stored bars merged into intervals like PostgreSQL does."""

from __future__ import annotations

from collections.abc import Sequence

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.bar_intervals import BarInterval, merge_into_buckets


class MemoryBarReader:
    """`BarReader` over one-minute bars held in a list, bucketed like `PgBarReader`."""

    def __init__(self, minutes: Sequence[Bar] = ()) -> None:
        """Serve `minutes` (one-minute bars of any symbols; a later bar of a minute supersedes)."""
        self.minutes = list(minutes)

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
        """Up to `limit` bars in [start_ns, end_ns) after `after_ns`, oldest first; whether more follow."""
        by_minute = {bar.start_ns: bar for bar in self.minutes if bar.symbol == symbol}
        in_range = [by_minute[key] for key in sorted(by_minute) if start_ns <= key < end_ns]
        bars = [
            bar
            for bar in merge_into_buckets(in_range, interval)
            if after_ns is None or bar.start_ns > after_ns
        ]
        return bars[:limit], len(bars) > limit

    async def newest_bar_ns(self, symbol: str) -> int | None:
        """Start of the symbol's newest minute; None when it has none."""
        return max((bar.start_ns for bar in self.minutes if bar.symbol == symbol), default=None)


class MemoryMinuteBarHistory:
    """`MinuteBarHistory` over one-minute bars held in a list (a later bar of a minute supersedes)."""

    def __init__(self, minutes: Sequence[Bar] = ()) -> None:
        """Serve `minutes`, one-minute bars of any symbols."""
        self.minutes = list(minutes)

    async def symbols_between(self, start_ns: int, end_ns: int) -> list[str]:
        """The symbols with a bar starting in [start_ns, end_ns), sorted."""
        return sorted({bar.symbol for bar in self.minutes if start_ns <= bar.start_ns < end_ns})

    async def minute_bars(self, symbols: Sequence[str], start_ns: int, end_ns: int) -> list[Bar]:
        """The bars of `symbols` starting in [start_ns, end_ns), ordered by (start, symbol)."""
        wanted = set(symbols)
        by_key = {
            (bar.start_ns, bar.symbol): bar
            for bar in self.minutes
            if start_ns <= bar.start_ns < end_ns and bar.symbol in wanted
        }
        return [by_key[key] for key in sorted(by_key)]
