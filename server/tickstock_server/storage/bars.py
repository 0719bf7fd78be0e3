"""Reading bars: stored one-minute bars bucketed by PostgreSQL, merged with bars not stored yet.

Day bars prefer the loader's ``ohlcv_daily`` rows: a day with a stored daily row is served from it,
a day without one is aggregated from its one-minute bars.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.bar_intervals import BarInterval, bucket_start_ns, merge_into_buckets
from tickstock_server.storage.bar_buckets import bucketed_query
from tickstock_server.storage.database import map_asyncpg_errors
from tickstock_server.storage.timestamps import datetime_from_ns, ns_from_datetime
from tickstock_server.support.time_units import NS_PER_S

__all__ = ["PgBarReader", "bar_from_row"]

# Loaded daily bars; a row's bar starts at US/Eastern midnight of its date, like a minute-built day,
# and the day holding the range's start counts, as its minutes do.
_DAILY = """
SELECT start, open, high, low, close, volume
FROM (SELECT (date::timestamp AT TIME ZONE 'America/New_York') AS start, open, high, low, close, volume
      FROM ohlcv_daily
      WHERE symbol = $1 AND date >= ($2::timestamptz AT TIME ZONE 'America/New_York')::date) AS days
WHERE start < $3 AND start > $4
ORDER BY start LIMIT $5
"""

_NEWEST = "SELECT max(ts) FROM ohlcv_1min WHERE symbol = $1"

# The hourly continuous aggregate exists exactly where ohlcv_1min is a TimescaleDB hypertable.
_TIMESCALE_SCHEMA = "SELECT to_regclass('ohlcv_1hour') IS NOT NULL"
_HOUR_NS = 3600 * NS_PER_S

_MINUTES = """
SELECT ts, open, high, low, close, volume FROM ohlcv_1min
WHERE symbol = $1 AND ts >= $2 AND ts < $3 ORDER BY ts
"""


def bar_from_row(symbol: str, row: asyncpg.Record, start_key: str) -> Bar:
    """A bar of `symbol` from a row with open, high, low, close, volume and its start in `start_key`."""
    return Bar(
        symbol=symbol,
        start_ns=ns_from_datetime(row[start_key]),
        open=float(row["open"]),
        high=float(row["high"]),
        low=float(row["low"]),
        close=float(row["close"]),
        volume=int(row["volume"]),
        ticks=0,  # not stored
    )


class PgBarReader:
    """Bars of one symbol over a time range from ``ohlcv_1min``, with the not-yet-stored minutes merged in.

    `pending(symbol)` returns the symbol's one-minute bars held in memory, possibly by another process
    (the writer's buffer, then the aggregator's open bars; a later bar of the same minute supersedes an
    earlier one). A stored minute
    that also has a pending revision is replaced by it, so a client never sees a hole or a stale minute
    while bars wait for their flush. Buckets before the first pending minute's bucket are aggregated by
    PostgreSQL (with TimescaleDB: time_bucket, and the hourly continuous aggregate for 1h and 1d over
    whole hours); from there on, stored and pending minutes are merged here.

    Day bars (`BarInterval.DAY_1`) prefer ``ohlcv_daily``: where the historical loader wrote a day's
    row, that row is the day's bar (the API's official daily bar, which also counts trades outside
    the minutes stored here); days without a row are aggregated from minutes as above.
    """

    def __init__(self, pool: asyncpg.Pool, pending: Callable[[str], Awaitable[Sequence[Bar]]]) -> None:
        """Use `pool` (owned by the caller) and the in-memory source `pending`."""
        self._pool = pool
        self._pending = pending
        self._timescale: bool | None = None
        """Whether the schema is the TimescaleDB one; looked up by the first read."""

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

        Bars start in [`start_ns`, `end_ns`) and, when `after_ns` is given (paging), after it.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        pending_by_minute = {
            bar.start_ns: bar for bar in await self._pending(symbol) if start_ns <= bar.start_ns < end_ns
        }
        cutoff_ns = end_ns
        if pending_by_minute:
            cutoff_ns = max(start_ns, bucket_start_ns(min(pending_by_minute), interval))
        after = after_ns if after_ns is not None else -1
        arguments: list[object] = [
            symbol,
            datetime_from_ns(start_ns),
            datetime_from_ns(cutoff_ns),
            datetime_from_ns(after),
            limit + 1,
        ]
        if interval is not BarInterval.DAY_1:
            arguments.append(dt.timedelta(seconds=interval.seconds))
        with map_asyncpg_errors():
            async with self._pool.acquire() as connection:
                if self._timescale is None:
                    self._timescale = bool(await connection.fetchval(_TIMESCALE_SCHEMA))
                whole_hours = start_ns % _HOUR_NS == 0 and cutoff_ns % _HOUR_NS == 0
                query = bucketed_query(interval, timescale=self._timescale, whole_hours=whole_hours)
                stored = await connection.fetch(query, *arguments)
                recent = (
                    await connection.fetch(
                        _MINUTES, symbol, datetime_from_ns(cutoff_ns), datetime_from_ns(end_ns)
                    )
                    if cutoff_ns < end_ns
                    else []
                )
        bars = [bar_from_row(symbol, row, "bucket") for row in stored]
        minutes = {bar.start_ns: bar for bar in (bar_from_row(symbol, row, "ts") for row in recent)}
        minutes.update(pending_by_minute)
        tail = merge_into_buckets((minutes[key] for key in sorted(minutes)), interval)
        bars += [bar for bar in tail if bar.start_ns > after]
        if interval is BarInterval.DAY_1:
            bars = await self._with_daily_rows(
                symbol, bars, [symbol, datetime_from_ns(start_ns), datetime_from_ns(end_ns), *arguments[3:5]]
            )
        return bars[:limit], len(bars) > limit

    async def _with_daily_rows(
        self, symbol: str, from_minutes: list[Bar], arguments: list[object]
    ) -> list[Bar]:
        """`from_minutes` with the range's ``ohlcv_daily`` rows merged in, replacing their days.

        `arguments` are the query's: symbol, start, end, after, limit + 1.
        Both inputs are the first limit + 1 days of their source after the page's start, so the first
        limit + 1 days of their union are among them: paging stays exact.
        """
        with map_asyncpg_errors():
            async with self._pool.acquire() as connection:
                rows = await connection.fetch(_DAILY, *arguments)
        by_day = {bar.start_ns: bar for bar in from_minutes}
        by_day.update((bar.start_ns, bar) for bar in (bar_from_row(symbol, row, "start") for row in rows))
        return [by_day[key] for key in sorted(by_day)]

    async def newest_bar_ns(self, symbol: str) -> int | None:
        """Start of the symbol's newest one-minute bar, in memory or stored; None when it has none.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        pending = await self._pending(symbol)
        if pending:
            return max(bar.start_ns for bar in pending)
        with map_asyncpg_errors():
            async with self._pool.acquire() as connection:
                newest = await connection.fetchval(_NEWEST, symbol)
        return None if newest is None else ns_from_datetime(newest)
