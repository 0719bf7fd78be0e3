"""GetBars' storage side: stored minutes bucketed by PostgreSQL, pending minutes merged, paging."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from factories import NS_PER_S, ns_at

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.bar_intervals import BarInterval
from tickstock_server.storage.bars import PgBarReader
from tickstock_server.storage.migrate import apply_migrations

T0 = ns_at("2026-01-06T15:00:00")  # 10:00 ET
MINUTE_NS = 60 * NS_PER_S


def _minute(offset: int, price: float, volume: int = 100, symbol: str = "AAPL") -> Bar:
    return Bar(
        symbol=symbol, start_ns=T0 + offset * MINUTE_NS, open=price, high=price + 1, low=price - 1,
        close=price + 0.5, volume=volume, ticks=1,
    )  # fmt: skip


async def _store(pool: asyncpg.Pool, bars: list[Bar]) -> None:
    await pool.executemany(
        "INSERT INTO ohlcv_1min (symbol, ts, open, high, low, close, volume)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
            (
                b.symbol,
                dt.datetime.fromtimestamp(b.start_ns / 1e9, tz=dt.UTC),
                b.open,
                b.high,
                b.low,
                b.close,
                b.volume,
            )
            for b in bars
        ],
    )


@pytest.fixture
async def pool(pg_pool: asyncpg.Pool) -> asyncpg.Pool:
    await apply_migrations(pg_pool)
    return pg_pool


async def _none_pending(symbol: str) -> list[Bar]:
    return []


def _pending_of(bars_by_symbol: dict[str, list[Bar]]) -> Callable[[str], Awaitable[list[Bar]]]:
    async def pending(symbol: str) -> list[Bar]:
        return bars_by_symbol.get(symbol, [])

    return pending


def _summary(bars: list[Bar]) -> list[tuple[int, float, float, float, float, int]]:
    return [((b.start_ns - T0) // MINUTE_NS, b.open, b.high, b.low, b.close, b.volume) for b in bars]


async def test_stored_minutes_are_bucketed_into_five_minute_bars(pool: asyncpg.Pool) -> None:
    await _store(
        pool, [_minute(0, 10.0), _minute(4, 12.0), _minute(5, 11.0), _minute(0, 50.0, symbol="MSFT")]
    )
    reader = PgBarReader(pool, pending=_none_pending)

    bars, more = await reader.get_bars("AAPL", BarInterval.MINUTE_5, T0, T0 + 60 * MINUTE_NS, limit=10)

    assert _summary(bars) == [(0, 10.0, 13.0, 9.0, 12.5, 200), (5, 11.0, 12.0, 10.0, 11.5, 100)]
    assert more is False


async def test_pending_minutes_merge_and_supersede_stored_ones(pool: asyncpg.Pool) -> None:
    await _store(pool, [_minute(0, 10.0), _minute(1, 10.0), _minute(2, 10.0)])
    # Minute 2 has a newer revision not flushed yet; minute 3 exists only in memory.
    pending = [_minute(2, 10.0, volume=300), _minute(3, 20.0, volume=5)]
    reader = PgBarReader(pool, pending=_pending_of({"AAPL": pending}))

    minutes, _ = await reader.get_bars("AAPL", BarInterval.MINUTE_1, T0, T0 + 10 * MINUTE_NS, limit=10)
    five, _ = await reader.get_bars("AAPL", BarInterval.MINUTE_5, T0, T0 + 10 * MINUTE_NS, limit=10)

    assert [(m, v) for m, *_, v in _summary(minutes)] == [(0, 100), (1, 100), (2, 300), (3, 5)]
    assert _summary(five) == [(0, 10.0, 21.0, 9.0, 20.5, 505)]


async def test_pages_cover_every_bar_once_in_order(pool: asyncpg.Pool) -> None:
    await _store(pool, [_minute(offset, 10.0 + offset) for offset in range(7)])
    reader = PgBarReader(pool, pending=_pending_of({"AAPL": [_minute(7, 30.0), _minute(8, 31.0)]}))

    seen: list[int] = []
    after = None
    while True:
        bars, more = await reader.get_bars(
            "AAPL", BarInterval.MINUTE_1, T0, T0 + 60 * MINUTE_NS, limit=4, after_ns=after
        )
        seen += [(bar.start_ns - T0) // MINUTE_NS for bar in bars]
        if not more:
            break
        after = bars[-1].start_ns

    assert seen == list(range(9))


async def test_day_bars_follow_the_eastern_trading_day(pool: asyncpg.Pool) -> None:
    # 15:00 UTC (10:00 ET) on the 6th and 02:00 UTC on the 7th (21:00 ET on the 6th) are one ET day.
    late = Bar(symbol="AAPL", start_ns=ns_at("2026-01-07T02:00:00"), open=9.0, high=9.0, low=8.0, close=8.5,
               volume=1, ticks=1)  # fmt: skip
    await _store(pool, [_minute(0, 10.0), late])
    reader = PgBarReader(pool, pending=_none_pending)

    bars, _ = await reader.get_bars(
        "AAPL", BarInterval.DAY_1, ns_at("2026-01-06T00:00:00"), ns_at("2026-01-08T00:00:00"), limit=10
    )

    assert [(b.start_ns, b.open, b.low, b.close, b.volume) for b in bars] == [
        (ns_at("2026-01-06T05:00:00"), 10.0, 8.0, 8.5, 101)
    ]


async def test_newest_bar_is_the_pending_minute_else_the_newest_stored_one(pool: asyncpg.Pool) -> None:
    await _store(pool, [_minute(0, 10.0), _minute(9, 12.0), _minute(30, 11.0, symbol="MSFT")])
    reader = PgBarReader(pool, pending=_pending_of({"AAPL": [_minute(10, 13.0), _minute(11, 14.0)]}))

    assert await reader.newest_bar_ns("AAPL") == T0 + 11 * MINUTE_NS
    assert await reader.newest_bar_ns("MSFT") == T0 + 30 * MINUTE_NS
    assert await reader.newest_bar_ns("NVDA") is None
