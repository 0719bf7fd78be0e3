"""One write of one-minute bars to ``ohlcv_1min``: COPY into a staging table, then one upsert."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import asyncpg

from tickstock_server.domain.bar import Bar
from tickstock_server.support.time_units import NS_PER_US

__all__ = ["FLUSH_ERRORS", "MIN_PART_ROWS", "partition_bars", "upsert_bars"]

# Below this many bars per part, another connection's transaction costs more than it saves.
MIN_PART_ROWS = 1_000

# Everything a flush can meet while PostgreSQL is down, restarting or unreachable: refused or reset
# connections (OSError), server errors such as admin_shutdown or cannot_connect_now (PostgresError),
# connections that died under the pool (InterfaceError), the flush timeout (TimeoutError), and
# InternalClientError: a server shutting down in the middle of a COPY leaves the connection in a
# protocol state in which the pool's reset on release fails with it (the pool then drops the
# connection and opens a new one on the next acquire).
FLUSH_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    TimeoutError,
)

# The staging table lives for one transaction. Prices travel as float8, the cheapest binary encoding,
# and become numeric in SQL: PostgreSQL's float8 -> numeric cast keeps 15 significant digits (123.45
# stays 123.45), whereas asyncpg would encode a Python float into numeric with its full binary
# expansion (123.4500000000000028421709430404007434844970703125). Start times travel as integer
# microseconds and become timestamptz exactly.
_CREATE_STAGING = """
CREATE TEMP TABLE ohlcv_1min_staging (
    symbol   text   NOT NULL,
    start_us bigint NOT NULL,
    open     float8 NOT NULL,
    high     float8 NOT NULL,
    low      float8 NOT NULL,
    close    float8 NOT NULL,
    volume   bigint NOT NULL
) ON COMMIT DROP
"""
_STAGING_COLUMNS = ("symbol", "start_us", "open", "high", "low", "close", "volume")

# Bars are cumulative revisions, so merging a revision into the stored row keeps the first open,
# widens high and low, and REPLACES close and volume: writing the same revision twice (a flush retried
# after a commit whose acknowledgement was lost) leaves the row unchanged.
_UPSERT = """
INSERT INTO ohlcv_1min AS stored (symbol, ts, open, high, low, close, volume)
SELECT symbol,
       TIMESTAMPTZ 'epoch' + start_us * INTERVAL '1 microsecond',
       open::numeric,
       high::numeric,
       low::numeric,
       close::numeric,
       volume
FROM ohlcv_1min_staging
ON CONFLICT (symbol, ts) DO UPDATE SET
    high   = GREATEST(stored.high, EXCLUDED.high),
    low    = LEAST(stored.low, EXCLUDED.low),
    close  = EXCLUDED.close,
    volume = EXCLUDED.volume
"""


async def upsert_bars(pool: asyncpg.Pool, bars: Iterable[Bar], timeout_s: float) -> None:
    """Merge `bars` (cumulative revisions) into ``ohlcv_1min`` in one transaction of at most `timeout_s`.

    Raises:
        One of FLUSH_ERRORS when PostgreSQL is down, restarting or unreachable, or the timeout passes.
    """
    records = [
        (bar.symbol, bar.start_ns // NS_PER_US, bar.open, bar.high, bar.low, bar.close, bar.volume)
        for bar in bars
    ]
    async with asyncio.timeout(timeout_s), pool.acquire() as conn, conn.transaction():
        await conn.execute(_CREATE_STAGING)
        await conn.copy_records_to_table("ohlcv_1min_staging", records=records, columns=_STAGING_COLUMNS)
        await conn.execute(_UPSERT)


def partition_bars(batch: list[Bar], max_parts: int) -> list[list[Bar]]:
    """`batch` in up to `max_parts` parts of at least MIN_PART_ROWS bars, each symbol in one part.

    Parts written concurrently then never touch the same rows.
    """
    count = min(max_parts, max(1, len(batch) // MIN_PART_ROWS))
    if count == 1:
        return [batch]
    parts: list[list[Bar]] = [[] for _ in range(count)]
    for bar in batch:
        parts[hash(bar.symbol) % count].append(bar)
    return [part for part in parts if part]
