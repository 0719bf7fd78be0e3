"""Migration 0002_bars: bar tables on plain PostgreSQL, TimescaleDB objects where the extension is usable."""

from __future__ import annotations

import asyncpg
import pytest

from tickstock_server.storage.migrate import apply_migrations, load_migrations
from tickstock_server.storage.timescale import timescale_available


async def _primary_key(pool: asyncpg.Pool, table: str) -> list[str]:
    rows = await pool.fetch(
        """
        SELECT a.attname
        FROM pg_index i
        JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position) ON true
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = $1::regclass AND i.indisprimary
        ORDER BY k.position
        """,
        table,
    )
    return [row["attname"] for row in rows]


async def _column_types(pool: asyncpg.Pool, table: str) -> dict[str, str]:
    rows = await pool.fetch(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = $1",
        table,
    )
    return {row["column_name"]: f"{row['data_type']} {row['is_nullable']}" for row in rows}


async def test_empty_database_gets_bar_tables_with_symbol_time_keys(pg_pool: asyncpg.Pool) -> None:
    # Act
    applied = await apply_migrations(pg_pool)

    # Assert
    assert 2 in applied
    assert await _primary_key(pg_pool, "ohlcv_1min") == ["symbol", "ts"]
    assert await _primary_key(pg_pool, "ohlcv_daily") == ["symbol", "date"]
    prices = {name: "numeric NO" for name in ("open", "high", "low", "close")}
    assert await _column_types(pg_pool, "ohlcv_1min") == {
        "symbol": "text NO",
        "ts": "timestamp with time zone NO",
        **prices,
        "volume": "bigint NO",
    }
    assert await _column_types(pg_pool, "ohlcv_daily") == {
        "symbol": "text NO",
        "date": "date NO",
        **prices,
        "volume": "bigint NO",
    }


async def test_bars_migration_applies_on_top_of_api_keys_schema(pg_pool: asyncpg.Pool) -> None:
    # Arrange: a database at version 1, as left by a TickStock release before the bar tables.
    first = load_migrations()[0]
    await pg_pool.execute(
        "CREATE TABLE schema_migrations (version int PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    await pg_pool.execute(first.sql)
    await pg_pool.execute("INSERT INTO schema_migrations (version, name) VALUES (1, $1)", first.name)
    await pg_pool.execute("INSERT INTO api_keys (key_id, user_name, secret_sha256) VALUES ('k', 'u', 'h')")

    # Act
    applied = await apply_migrations(pg_pool)

    # Assert
    assert applied[0] == 2
    assert 1 not in applied
    assert await pg_pool.fetchval("SELECT count(*) FROM api_keys") == 1
    assert await pg_pool.fetchval("SELECT to_regclass('ohlcv_1min') IS NOT NULL")


async def test_rerun_after_bar_rows_written_applies_nothing_and_keeps_rows(pg_pool: asyncpg.Pool) -> None:
    # Arrange
    await apply_migrations(pg_pool)
    await pg_pool.execute(
        "INSERT INTO ohlcv_1min VALUES ('AAPL', '2026-01-06 15:00+00', 10, 11, 9, 10.5, 100)"
    )

    # Act
    applied = await apply_migrations(pg_pool)

    # Assert
    assert applied == []
    assert await pg_pool.fetchval("SELECT count(*) FROM ohlcv_1min") == 1


async def test_duplicate_symbol_minute_is_rejected(pg_pool: asyncpg.Pool) -> None:
    # Arrange
    await apply_migrations(pg_pool)
    insert = "INSERT INTO ohlcv_1min VALUES ('AAPL', '2026-01-06 15:00+00', 10, 11, 9, 10.5, 100)"
    await pg_pool.execute(insert)

    # Act / Assert
    with pytest.raises(asyncpg.UniqueViolationError):
        await pg_pool.execute(insert)


async def test_without_timescaledb_bar_tables_stay_plain(pg_pool: asyncpg.Pool) -> None:
    # Arrange
    if await timescale_available(pg_pool):
        pytest.skip("TimescaleDB is usable on this server; the plain path does not apply")

    # Act
    await apply_migrations(pg_pool)

    # Assert
    assert await pg_pool.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'") == 0
    assert await pg_pool.fetchval("SELECT to_regclass('ohlcv_1hour')") is None


async def test_with_timescaledb_minute_bars_are_compressed_hypertable_with_hourly_aggregate(
    timescale_pool: asyncpg.Pool,
) -> None:
    # Arrange: PGlite with the extension installed, as a database administrator would have done.
    pg_pool = timescale_pool
    assert await timescale_available(pg_pool)

    # Act
    await apply_migrations(pg_pool)
    await pg_pool.execute(
        "INSERT INTO ohlcv_1min VALUES"
        " ('AAPL', '2026-01-06 15:00+00', 10, 11, 9, 10.5, 100),"
        " ('AAPL', '2026-01-06 15:01+00', 10.5, 12, 10, 11, 50)"
    )

    # Assert
    hypertable = await pg_pool.fetchrow(
        "SELECT compression_enabled FROM timescaledb_information.hypertables"
        " WHERE hypertable_name = 'ohlcv_1min'"
    )
    assert hypertable is not None
    assert hypertable["compression_enabled"]
    chunk_interval = await pg_pool.fetchval(
        "SELECT time_interval FROM timescaledb_information.dimensions WHERE hypertable_name = 'ohlcv_1min'"
    )
    assert chunk_interval.days == 1
    segment_by = await pg_pool.fetchval(
        "SELECT attname FROM timescaledb_information.compression_settings"
        " WHERE hypertable_name = 'ohlcv_1min' AND segmentby_column_index = 1"
    )
    assert segment_by == "symbol"
    jobs = await pg_pool.fetch("SELECT proc_name FROM timescaledb_information.jobs")
    assert {"policy_compression", "policy_refresh_continuous_aggregate"} <= {row["proc_name"] for row in jobs}
    # Real-time aggregation answers from ohlcv_1min before any refresh: open 10 (first), high
    # max(11, 12) = 12, low min(9, 10) = 9, close 11 (last), volume 100 + 50 = 150.
    hour = await pg_pool.fetchrow("SELECT open, high, low, close, volume FROM ohlcv_1hour")
    assert hour is not None
    assert tuple(hour) == (10, 12, 9, 11, 150)
