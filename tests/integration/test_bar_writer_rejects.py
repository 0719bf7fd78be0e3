"""PgBarWriter with bars PostgreSQL rejects for their data: isolated, quarantined, the rest written."""

from __future__ import annotations

import logging

import asyncpg
import pytest
from factories import REGULAR_TS_NS

from tickstock_server.domain.bar import Bar
from tickstock_server.storage.bar_writer import PgBarWriter
from tickstock_server.storage.migrate import apply_migrations

_NS_PER_MINUTE = 60_000_000_000
_MINUTE_NS = REGULAR_TS_NS - REGULAR_TS_NS % _NS_PER_MINUTE


def _bar(symbol: str, minute: int = 0, *, start_ns: int | None = None, volume: int = 100) -> Bar:
    return Bar(
        symbol=symbol,
        start_ns=_MINUTE_NS + minute * _NS_PER_MINUTE if start_ns is None else start_ns,
        open=10.0, high=11.0, low=9.0, close=10.5, volume=volume, ticks=1,
    )  # fmt: skip


@pytest.fixture
async def pool(pg_pool: asyncpg.Pool) -> asyncpg.Pool:
    await apply_migrations(pg_pool)
    return pg_pool


@pytest.mark.parametrize("copy", [True, False], ids=["copy", "unnest"])
async def test_poisoned_batch_writes_good_bars_and_quarantines_bad_ones(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture, copy: bool
) -> None:
    # Arrange: 300 good bars with three poisoned ones among them, each for a different reason.
    good = [_bar(f"S{index:03d}", index % 5) for index in range(300)]
    nul_symbol = _bar("BAD\x00SYM")  # PostgreSQL text cannot hold NUL
    far_past = _bar("FAR", start_ns=-9 * 10**21)  # before 4713 BC, beyond timestamptz
    huge_volume = _bar("HUGE", volume=2**63)  # beyond bigint
    batch = good[:100] + [nul_symbol] + good[100:200] + [far_past, huge_volume] + good[200:]
    writer = PgBarWriter(pool, flush_connections=1, copy=copy)

    # Act
    with caplog.at_level(logging.ERROR, logger="tickstock_server.storage.bar_quarantine"):
        await writer.put(batch)
        await writer.close(timeout_s=5)

    # Assert
    assert await pool.fetchval("SELECT count(*) FROM ohlcv_1min") == 300
    quarantined = await pool.fetch(
        "SELECT symbol, start_ns, bar, reason FROM ohlcv_1min_quarantine ORDER BY id"
    )
    assert [(row["symbol"], int(row["start_ns"])) for row in quarantined] == [
        ("BAD\\x00SYM", _MINUTE_NS),
        ("FAR", -9 * 10**21),
        ("HUGE", _MINUTE_NS),
    ]
    assert quarantined[0]["reason"].startswith("CharacterNotInRepertoireError")
    assert "out of range" in quarantined[1]["reason"]
    assert "out of int64 range" in quarantined[2]["reason"]
    assert "volume=9223372036854775808" in quarantined[2]["bar"]
    stats = writer.stats()
    assert (stats.rows_written, stats.quarantined, stats.pending, stats.failed_flushes) == (300, 3, 0, 0)
    assert "3 bars rejected by PostgreSQL for their data" in caplog.text


async def test_newer_revision_of_a_rejected_bar_is_still_written(pool: asyncpg.Pool) -> None:
    # Arrange: the first revision poisoned (volume beyond bigint), then a sane one of the same minute.
    writer = PgBarWriter(pool, flush_connections=1)
    await writer.put([_bar("AAPL", volume=2**63)])
    await writer.close(timeout_s=5)
    writer = PgBarWriter(pool, flush_connections=1)

    # Act
    await writer.put([_bar("AAPL", volume=150)])
    await writer.close(timeout_s=5)

    # Assert
    assert await pool.fetchval("SELECT volume FROM ohlcv_1min WHERE symbol = 'AAPL'") == 150
    assert await pool.fetchval("SELECT count(*) FROM ohlcv_1min_quarantine") == 1
