"""Bars on TimescaleDB (PGlite): the writer's unnest path, and GetBars' reads through time_bucket and the
hourly continuous aggregate, equal to the same minutes bucketed in Python."""

from __future__ import annotations

import asyncpg
import pytest
from factories import NS_PER_S, ns_at

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.bar_intervals import BarInterval, merge_into_buckets
from tickstock_server.storage.bar_writer import PgBarWriter
from tickstock_server.storage.bars import PgBarReader
from tickstock_server.storage.migrate import apply_migrations

MINUTE_NS = 60 * NS_PER_S
HOUR_NS = 60 * MINUTE_NS
DAY_START = ns_at("2026-01-06T05:00:00")  # midnight in New York
RANGE_END = DAY_START + 2 * 24 * HOUR_NS


def _minutes() -> list[Bar]:
    """Two trading days of AAPL minutes, every 7th minute, with prices that move; one MSFT minute."""
    bars = []
    for day in range(2):
        session_ns = DAY_START + day * 24 * HOUR_NS + 9 * HOUR_NS + 30 * MINUTE_NS
        for minute in range(0, 390, 7):
            price = 100.0 + day * 5 + (minute % 31) * 0.25 - (minute % 13) * 0.5
            bars.append(
                Bar(
                    symbol="AAPL", start_ns=session_ns + minute * MINUTE_NS, open=price, high=price + 1.5,
                    low=price - 1.25, close=price + 0.5, volume=100 + minute, ticks=1,
                )
            )  # fmt: skip
    bars.append(Bar(symbol="MSFT", start_ns=DAY_START + 15 * HOUR_NS, open=1, high=2, low=0.5, close=1.5,
                    volume=9, ticks=1))  # fmt: skip
    return bars


async def _none_pending(symbol: str) -> list[Bar]:
    return []


def _summary(bars: list[Bar]) -> list[tuple[int, float, float, float, float, int]]:
    return [(b.start_ns, b.open, b.high, b.low, b.close, b.volume) for b in bars]


@pytest.fixture
async def stored(timescale_pool: asyncpg.Pool) -> asyncpg.Pool:
    """The migrated TimescaleDB schema with `_minutes` written by the bar writer, as arrays into unnest
    (PGlite crashes on COPY)."""
    await apply_migrations(timescale_pool)
    writer = PgBarWriter(timescale_pool, flush_connections=1, copy=False)
    await writer.put(_minutes())
    await writer.close()
    assert writer.stats().rows_written == len(_minutes())
    return timescale_pool


@pytest.mark.parametrize(
    ("interval", "start_ns"),
    [
        (BarInterval.MINUTE_1, DAY_START),
        (BarInterval.MINUTE_5, DAY_START),  # time_bucket on ohlcv_1min
        (BarInterval.HOUR_1, DAY_START),  # the continuous aggregate
        (BarInterval.HOUR_1, DAY_START + 15 * HOUR_NS + 17 * MINUTE_NS),  # not whole hours: time_bucket
        (BarInterval.DAY_1, DAY_START),  # days of the aggregate's hours, in New York
    ],
)
async def test_stored_minutes_read_as_bars_equal_python_bucketing(
    stored: asyncpg.Pool, interval: BarInterval, start_ns: int
) -> None:
    # Arrange
    reader = PgBarReader(stored, pending=_none_pending)
    minutes = [bar for bar in _minutes() if bar.symbol == "AAPL" and bar.start_ns >= start_ns]
    expected = merge_into_buckets(minutes, interval)

    # Act
    bars, more = await reader.get_bars("AAPL", interval, start_ns, RANGE_END, limit=1_000)

    # Assert
    assert _summary(bars) == _summary(expected)
    assert more is False


async def test_materialised_hours_page_like_real_time_ones(stored: asyncpg.Pool) -> None:
    # Arrange: the refresh policy's work, done now: the aggregate answers from its materialised rows.
    await stored.execute("CALL refresh_continuous_aggregate('ohlcv_1hour', NULL, NULL)")
    reader = PgBarReader(stored, pending=_none_pending)
    minutes = [bar for bar in _minutes() if bar.symbol == "AAPL"]
    expected = merge_into_buckets(minutes, BarInterval.HOUR_1)

    # Act
    first, more = await reader.get_bars("AAPL", BarInterval.HOUR_1, DAY_START, RANGE_END, limit=5)
    rest, last_more = await reader.get_bars(
        "AAPL", BarInterval.HOUR_1, DAY_START, RANGE_END, limit=1_000, after_ns=first[-1].start_ns
    )

    # Assert
    assert more is True
    assert last_more is False
    assert _summary(first + rest) == _summary(expected)
