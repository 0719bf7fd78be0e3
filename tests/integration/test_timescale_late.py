"""TimescaleDB added after the bar tables were created plain: the next start converts ohlcv_1min."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from timescale_bridge import running_bridge, schema_pool

from tickstock_server.storage.migrate import apply_migrations
from tickstock_server.storage.timescale import timescale_available


@pytest.fixture(scope="module")
def bare_pglite_url() -> Iterator[str]:
    """A PGlite of its own: the extension must not be installed before the first migration."""
    with running_bridge() as url:
        yield url


@pytest.fixture
async def pool(bare_pglite_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with schema_pool(bare_pglite_url) as pool:
        yield pool


async def test_extension_added_after_first_migration_converts_table_with_its_rows(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange: migrated while TimescaleDB was not usable (PGlite does not list it as preloaded), with rows.
    assert not await timescale_available(pool)
    await apply_migrations(pool)
    assert await pool.fetchval("SELECT to_regclass('ohlcv_1hour')") is None
    await pool.execute(
        "INSERT INTO ohlcv_1min VALUES"
        " ('AAPL', '2026-01-06 15:00+00', 10, 11, 9, 10.5, 100),"
        " ('AAPL', '2026-01-06 15:59+00', 10.5, 12, 10, 11, 50),"
        " ('AAPL', '2026-01-07 15:00+00', 20, 21, 19, 20.5, 7)"
    )
    # What an administrator does later; in public, so that dropping the test's schema keeps it.
    await pool.execute("CREATE EXTENSION timescaledb SCHEMA public")

    # Act: the next start, and the one after it
    with caplog.at_level(logging.WARNING, logger="tickstock_server.storage.timescale"):
        applied = await apply_migrations(pool)
        log_after_conversion = caplog.text
        applied_on_next_start = await apply_migrations(pool)

    # Assert
    assert applied == applied_on_next_start == []
    assert "converting ohlcv_1min (3 rows) into a hypertable" in log_after_conversion
    assert caplog.text == log_after_conversion  # the next start found nothing to convert
    hypertable = await pool.fetchrow(
        "SELECT compression_enabled FROM timescaledb_information.hypertables"
        " WHERE hypertable_name = 'ohlcv_1min'"
    )
    assert hypertable is not None
    assert hypertable["compression_enabled"]
    # migrate_data moved the rows into one chunk per day.
    assert await pool.fetchval("SELECT count(*) FROM show_chunks('ohlcv_1min')") == 2
    hours = await pool.fetch("SELECT open, high, low, close, volume FROM ohlcv_1hour ORDER BY bucket")
    assert [tuple(hour) for hour in hours] == [(10, 12, 9, 11, 150), (20, 21, 19, 20.5, 7)]
