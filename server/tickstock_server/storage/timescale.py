"""TimescaleDB capability check: whether the bar tables get hypertables and continuous aggregates."""

from __future__ import annotations

import asyncpg

from tickstock_server.storage.database import map_asyncpg_errors

# The same condition as the DO block of migration 0002_bars.sql: installed already, or available and
# preloaded (CREATE EXTENSION timescaledb fails unless the library is in shared_preload_libraries).
_AVAILABLE = r"""
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
    OR (
        EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
        AND current_setting('shared_preload_libraries') ~ '(^|[\s,])timescaledb($|[\s,])'
    )
"""


async def timescale_available(pool: asyncpg.Pool) -> bool:
    """Return True when the database can use (or already uses) the TimescaleDB extension.

    Migration 0002 makes ``ohlcv_1min`` a hypertable exactly when this is True at the time it runs;
    otherwise the tables are plain PostgreSQL ones.

    Raises:
        DependencyUnavailableError: PostgreSQL is unreachable.
    """
    with map_asyncpg_errors():
        available: bool = await pool.fetchval(_AVAILABLE)
    return available
