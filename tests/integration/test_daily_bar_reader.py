"""GetBars' day bars: a loaded ``ohlcv_daily`` row wins for its day, other days come from minutes."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest
from factories import ns_at

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.bar_intervals import BarInterval
from tickstock_server.storage.bars import PgBarReader
from tickstock_server.storage.migrate import apply_migrations

# Tuesday to Thursday, January 2026 (EST, UTC-5): a day's bar starts at 05:00 UTC.
TUE, WED, THU = dt.date(2026, 1, 6), dt.date(2026, 1, 7), dt.date(2026, 1, 8)
START_NS, END_NS = ns_at("2026-01-06T05:00:00"), ns_at("2026-01-09T05:00:00")


def midnight_ns(day: dt.date) -> int:
    return ns_at(f"{day.isoformat()}T05:00:00")


def _minute(day: dt.date, hour_utc: int, price: float, volume: int) -> Bar:
    start_ns = ns_at(f"{day.isoformat()}T{hour_utc:02d}:00:00")
    return Bar(symbol="AAPL", start_ns=start_ns, open=price, high=price + 1, low=price - 1, close=price,
               volume=volume, ticks=1)  # fmt: skip


async def _store_minutes(pool: asyncpg.Pool, bars: list[Bar]) -> None:
    await pool.executemany(
        "INSERT INTO ohlcv_1min (symbol, ts, open, high, low, close, volume)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [(b.symbol, dt.datetime.fromtimestamp(b.start_ns / 1e9, tz=dt.UTC), b.open, b.high, b.low, b.close,
          b.volume) for b in bars],
    )  # fmt: skip


async def _store_daily(pool: asyncpg.Pool, day: dt.date, price: float, volume: int) -> None:
    await pool.execute(
        "INSERT INTO ohlcv_daily (symbol, date, open, high, low, close, volume)"
        " VALUES ('AAPL', $1, $2, $3, $4, $5, $6)",
        day, price, price + 5, price - 5, price + 1, volume,
    )  # fmt: skip


async def _none_pending(symbol: str) -> list[Bar]:
    return []


@pytest.fixture
async def reader(pg_pool: asyncpg.Pool) -> PgBarReader:
    await apply_migrations(pg_pool)
    # Tuesday has minutes only, Wednesday minutes and a loaded row, Thursday a loaded row only.
    await _store_minutes(pg_pool, [_minute(TUE, 15, 10.0, 100), _minute(TUE, 16, 12.0, 50),
                                   _minute(WED, 15, 20.0, 7)])  # fmt: skip
    await _store_daily(pg_pool, WED, 200.0, 9_000)
    await _store_daily(pg_pool, THU, 300.0, 8_000)
    await _store_daily(pg_pool, dt.date(2026, 1, 12), 400.0, 1)  # after the range
    return PgBarReader(pg_pool, pending=_none_pending)


def _days(bars: list[Bar]) -> list[tuple[int, float, float, float, float, int]]:
    return [(b.start_ns, b.open, b.high, b.low, b.close, b.volume) for b in bars]


async def test_loaded_day_replaces_minutes_and_other_days_come_from_minutes(reader: PgBarReader) -> None:
    bars, more = await reader.get_bars("AAPL", BarInterval.DAY_1, START_NS, END_NS, limit=10)

    assert _days(bars) == [
        (midnight_ns(TUE), 10.0, 13.0, 9.0, 12.0, 150),  # aggregated from its two minutes
        (midnight_ns(WED), 200.0, 205.0, 195.0, 201.0, 9_000),  # the loaded row, not the minute
        (midnight_ns(THU), 300.0, 305.0, 295.0, 301.0, 8_000),  # the loaded row
    ]
    assert more is False


async def test_pages_of_one_day_walk_both_kinds_in_order(reader: PgBarReader) -> None:
    seen: list[tuple[int, int]] = []
    after = None
    while True:
        bars, more = await reader.get_bars(
            "AAPL", BarInterval.DAY_1, START_NS, END_NS, limit=1, after_ns=after
        )
        seen += [(bar.start_ns, bar.volume) for bar in bars]
        if not more:
            break
        after = bars[-1].start_ns

    assert seen == [(midnight_ns(TUE), 150), (midnight_ns(WED), 9_000), (midnight_ns(THU), 8_000)]


async def test_range_starting_inside_a_loaded_day_serves_that_day(reader: PgBarReader) -> None:
    bars, _ = await reader.get_bars(
        "AAPL", BarInterval.DAY_1, ns_at("2026-01-07T18:00:00"), ns_at("2026-01-08T00:00:00"), limit=10
    )

    assert _days(bars) == [(midnight_ns(WED), 200.0, 205.0, 195.0, 201.0, 9_000)]


async def test_minute_intervals_ignore_loaded_days(reader: PgBarReader) -> None:
    bars, _ = await reader.get_bars("AAPL", BarInterval.HOUR_1, START_NS, END_NS, limit=10)

    assert [b.volume for b in bars] == [100, 50, 7]
