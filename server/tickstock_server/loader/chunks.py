"""Cutting a backfill into chunks: one kind of bars for one symbol over consecutive days each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Chunk", "ChunkKind", "estimated_requests", "plan_chunks"]

ChunkKind = Literal["daily", "minute"]
"""What a chunk loads: daily bars into ``ohlcv_daily`` or one-minute bars into ``ohlcv_1min``."""


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Chunk:
    """One unit of loading and of resume: one kind of bars for one symbol over consecutive days."""

    symbol: str
    kind: ChunkKind
    first: dt.date
    """First day, inclusive."""
    last: dt.date
    """Last day, inclusive."""

    def __str__(self) -> str:
        return f"{self.kind} {self.symbol} {self.first}..{self.last}"


def plan_chunks(
    symbols: Sequence[str],
    first: dt.date,
    last: dt.date,
    *,
    kinds: Sequence[ChunkKind],
    minute_chunk_days: int | None = None,
) -> list[Chunk]:
    """Split a backfill into chunks: daily bars per calendar year, minute bars per month or N days.

    Chunks are cut at `first` and `last`, so they cover exactly the requested days, with neither gaps
    nor overlaps. They are ordered by symbol (in the given order), then kind (in the given order), then
    time.

    Args:
        symbols: Tickers.
        first: First day, inclusive.
        last: Last day, inclusive.
        kinds: Kinds of bars.
        minute_chunk_days: Days per minute chunk, counted from `first`; None for calendar months.
    """
    chunks: list[Chunk] = []
    for symbol in symbols:
        for kind in kinds:
            if kind == "daily":
                ranges = _calendar_ranges(first, last, _next_year)
            elif minute_chunk_days is None:
                ranges = _calendar_ranges(first, last, _next_month)
            else:
                ranges = _fixed_ranges(first, last, minute_chunk_days)
            chunks.extend(Chunk(symbol=symbol, kind=kind, first=a, last=b) for a, b in ranges)
    return chunks


def _next_year(day: dt.date) -> dt.date:
    return dt.date(day.year + 1, 1, 1)


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + 1, 1, 1) if day.month == 12 else dt.date(day.year, day.month + 1, 1)


def _calendar_ranges(
    first: dt.date, last: dt.date, next_start: Callable[[dt.date], dt.date]
) -> Iterator[tuple[dt.date, dt.date]]:
    start = first
    while start <= last:
        following = next_start(start)
        end = min(following - dt.timedelta(days=1), last)
        yield start, end
        start = following


def _fixed_ranges(first: dt.date, last: dt.date, days: int) -> Iterator[tuple[dt.date, dt.date]]:
    start = first
    while start <= last:
        end = min(start + dt.timedelta(days=days - 1), last)
        yield start, end
        start = end + dt.timedelta(days=1)


# Minute aggregates per page (the API's maximum) and per day at most: 04:00-20:00 ET, the extended
# session Massive reports minutes for.
_PAGE_ROWS = 50_000
_MINUTES_PER_DAY = 16 * 60


def estimated_requests(chunk: Chunk) -> int:
    """REST requests `chunk` needs at most (without retries): one per page of aggregates.

    A daily chunk is one calendar year at most, a single page. A minute chunk's pages are counted
    from every calendar day being a full extended session, so weekends and holidays make it an upper
    bound.
    """
    if chunk.kind == "daily":
        return 1
    days = (chunk.last - chunk.first).days + 1
    return max(1, -(-days * _MINUTES_PER_DAY // _PAGE_ROWS))
