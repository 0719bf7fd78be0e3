"""PgBarWriter across a restart in the middle of a minute: the minute keeps the volume stored before."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from factories import REGULAR_TS_NS
from polling import eventually

from tickstock_server.domain.bar import Bar
from tickstock_server.storage.bar_writer import PgBarWriter
from tickstock_server.storage.migrate import apply_migrations

_NS_PER_MINUTE = 60_000_000_000
_MINUTE_NS = REGULAR_TS_NS - REGULAR_TS_NS % _NS_PER_MINUTE


def _bar(minute: int, *, open: float, high: float, low: float, close: float, volume: int) -> Bar:
    return Bar(
        symbol="AAPL", start_ns=_MINUTE_NS + minute * _NS_PER_MINUTE, open=open, high=high, low=low,
        close=close, volume=volume, ticks=1,
    )  # fmt: skip


async def _minutes(pool: asyncpg.Pool) -> list[tuple[float, float, float, float, int]]:
    rows = await pool.fetch("SELECT open, high, low, close, volume FROM ohlcv_1min ORDER BY ts")
    return [
        (float(r["open"]), float(r["high"]), float(r["low"]), float(r["close"]), r["volume"]) for r in rows
    ]


async def _flushed(writer: PgBarWriter, bars: list[Bar]) -> None:
    flushes = writer.stats().flushes
    await writer.put(bars)
    await eventually(lambda: writer.stats().flushes > flushes and writer.stats().pending == 0)


@pytest.fixture
async def pool(pg_pool: asyncpg.Pool) -> asyncpg.Pool:
    await apply_migrations(pg_pool)
    return pg_pool


async def test_restart_in_the_middle_of_a_minute_ends_with_the_whole_minute_volume(
    pool: asyncpg.Pool,
) -> None:
    # Arrange: the first process writes two revisions of minute 0 (250 traded), then stops.
    before = PgBarWriter(pool, continues_stored_minutes=True)
    await before.put([_bar(0, open=10, high=11, low=9.5, close=10.5, volume=100)])
    await before.put([_bar(0, open=10, high=11.5, low=9.5, close=11, volume=250)])
    await before.close()
    # The next process's aggregator starts minute 0 over: its revisions count only what trades after.
    after = PgBarWriter(pool, continues_stored_minutes=True, flush_interval_s=0.05)
    runner = asyncio.create_task(after.run())

    # Act: two flushed revisions of the rest of minute 0 (90 traded), the second written twice (a flush
    # retried after a commit whose acknowledgement was lost), then minute 1.
    await _flushed(after, [_bar(0, open=10.8, high=10.9, low=9, close=10.7, volume=40)])
    # GetBars' view of the minute still in memory includes the part stored before the restart.
    [open_minute] = after.as_stored([_bar(0, open=10.8, high=10.9, low=9, close=10.7, volume=60)])
    await _flushed(after, [_bar(0, open=10.8, high=12, low=9, close=11.5, volume=90)])
    await _flushed(after, [_bar(0, open=10.8, high=12, low=9, close=11.5, volume=90)])
    await after.put([_bar(1, open=11.5, high=11.6, low=11.4, close=11.6, volume=30)])
    await after.close()
    await runner

    # Assert: open from before the restart, high and low over both parts, close of the last revision.
    assert open_minute.volume == 250 + 60
    assert await _minutes(pool) == [(10, 12, 9, 11.5, 250 + 90), (11.5, 11.6, 11.4, 11.6, 30)]


async def test_replayed_history_replaces_stored_minutes(pool: asyncpg.Pool) -> None:
    # Arrange: a source that starts its history over (a replay) rewrites whole minutes.
    await pool.execute(
        "INSERT INTO ohlcv_1min VALUES ('AAPL', to_timestamp($1::float8 / 1e9), 10, 11, 9, 10.5, 500)",
        _MINUTE_NS,
    )
    writer = PgBarWriter(pool)

    # Act
    await writer.put([_bar(0, open=10, high=11, low=9, close=10.5, volume=500)])
    await writer.close()

    # Assert
    assert await _minutes(pool) == [(10, 11, 9, 10.5, 500)]
