"""TimescaleDB capability check, and the late conversion of ``ohlcv_1min`` into a hypertable."""

from __future__ import annotations

import logging

import asyncpg

from tickstock_server.storage.database import map_asyncpg_errors

_logger = logging.getLogger(__name__)

# The same condition as the DO block of migration 0002_bars.sql: installed already, or available and
# preloaded (CREATE EXTENSION timescaledb fails unless the library is in shared_preload_libraries).
_AVAILABLE = r"""
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
    OR (
        EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
        AND current_setting('shared_preload_libraries') ~ '(^|[\s,])timescaledb($|[\s,])'
    )
"""

# Whether ohlcv_1min (of the schema first on the search path that has it) is a hypertable; only valid
# once the extension is installed.
_IS_HYPERTABLE = """
SELECT EXISTS (
    SELECT 1 FROM timescaledb_information.hypertables h
    JOIN pg_class c ON c.relname = h.hypertable_name
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = h.hypertable_schema
    WHERE c.oid = 'ohlcv_1min'::regclass
)
"""

# What migration 0002 does where TimescaleDB is usable when it runs (see the comments there), for a
# table that already holds rows: migrate_data moves them into chunks.
_CONVERT = (
    """SELECT create_hypertable('ohlcv_1min', 'ts', chunk_time_interval => INTERVAL '1 day',
                                migrate_data => true)""",
    """ALTER TABLE ohlcv_1min SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol',
                                  timescaledb.compress_orderby = 'ts DESC')""",
    "SELECT add_compression_policy('ohlcv_1min', INTERVAL '7 days')",
    """CREATE MATERIALIZED VIEW ohlcv_1hour
       WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
       SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket, symbol, first(open, ts) AS open,
              max(high) AS high, min(low) AS low, last(close, ts) AS close, sum(volume) AS volume
       FROM ohlcv_1min GROUP BY bucket, symbol WITH NO DATA""",
    """SELECT add_continuous_aggregate_policy('ohlcv_1hour', start_offset => INTERVAL '3 days',
                                              end_offset => INTERVAL '1 hour',
                                              schedule_interval => INTERVAL '15 minutes')""",
)


async def timescale_available(pool: asyncpg.Pool) -> bool:
    """Return True when the database can use (or already uses) the TimescaleDB extension.

    Migration 0002 makes ``ohlcv_1min`` a hypertable exactly when this is True at the time it runs;
    otherwise the tables are plain PostgreSQL ones, until `convert_when_available` converts them.

    Raises:
        DependencyUnavailableError: PostgreSQL is unreachable.
    """
    with map_asyncpg_errors():
        available: bool = await pool.fetchval(_AVAILABLE)
    return available


async def convert_when_available(conn: asyncpg.Connection) -> bool:
    """Make a plain ``ohlcv_1min`` a compressed hypertable with an hourly aggregate where TimescaleDB works.

    For databases migrated before the extension was added: run at every start after the migrations.
    Converting moves the stored rows into chunks, holding a lock on the table meanwhile.

    Returns:
        True when it converted the table now; False when TimescaleDB is not usable or already in use.
    """
    if not await conn.fetchval(_AVAILABLE):
        return False
    async with conn.transaction():
        await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        if await conn.fetchval(_IS_HYPERTABLE):
            return False
        rows = await conn.fetchval("SELECT count(*) FROM ohlcv_1min")
        _logger.warning(
            "TimescaleDB is now available: converting ohlcv_1min (%d rows) into a hypertable", rows
        )
        for statement in _CONVERT:
            await conn.execute(statement)
    _logger.warning("ohlcv_1min is now a compressed hypertable with the hourly aggregate ohlcv_1hour")
    return True
