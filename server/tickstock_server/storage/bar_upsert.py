"""One write of one-minute bars to ``ohlcv_1min``: COPY (or arrays) into one upsert."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import asyncpg

from tickstock_server.domain.bar import Bar
from tickstock_server.support.time_units import NS_PER_US

__all__ = ["FLUSH_ERRORS", "MIN_PART_ROWS", "partition_bars", "upsert_bars"]

# Below this many bars per part, another connection costs more than it saves. The steady flushes of a
# live feed (about a second of updated bars: 2,000-4,000 at 4,000 active symbols) then take one
# connection, and only a backlog (after an outage) spreads over several: every connection held open is a
# PostgreSQL backend process of 15-20 MB resident.
MIN_PART_ROWS = 2_500

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

# Two ways in, measured in docs/performance.md ("COPY or unnest"): binary COPY into a staging table
# that lives for one transaction (the faster on PostgreSQL 18 for new rows), or one array per column
# into unnest() (for servers without COPY: PGlite, whose WASM backend crashes on it). Prices travel
# as float8, the cheapest binary encoding, and become numeric in SQL: PostgreSQL's float8 -> numeric
# cast keeps 15 significant digits (123.45 stays 123.45), whereas asyncpg would encode a Python float
# into numeric with its full binary expansion (123.4500000000000028421709430404007434844970703125).
# Start times travel as integer microseconds and become timestamptz exactly.
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
_COLUMNS = ("symbol", "start_us", "open", "high", "low", "close", "volume")
_ARRAYS = """unnest($1::text[], $2::bigint[], $3::float8[], $4::float8[], $5::float8[], $6::float8[],
              $7::bigint[]) AS rows (symbol, start_us, open, high, low, close, volume)"""

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
FROM {rows}
ON CONFLICT (symbol, ts) DO UPDATE SET
    high   = GREATEST(stored.high, EXCLUDED.high),
    low    = LEAST(stored.low, EXCLUDED.low),
    close  = EXCLUDED.close,
    volume = EXCLUDED.volume
"""
_UPSERT_STAGED = _UPSERT.format(rows="ohlcv_1min_staging")
_UPSERT_ARRAYS = _UPSERT.format(rows=_ARRAYS)


async def upsert_bars(pool: asyncpg.Pool, bars: Iterable[Bar], timeout_s: float, *, copy: bool) -> None:
    """Merge `bars` (cumulative revisions) into ``ohlcv_1min`` in one transaction of at most `timeout_s`.

    Args:
        pool: Pool on the database.
        bars: Distinct (symbol, start_ns) bars.
        timeout_s: Time limit in seconds.
        copy: Send the bars by COPY into a staging table; else as arrays into ``unnest``.

    Raises:
        One of FLUSH_ERRORS when PostgreSQL is down, restarting or unreachable, rejects a bar, or the
        timeout passes.
    """
    records = [
        (bar.symbol, bar.start_ns // NS_PER_US, bar.open, bar.high, bar.low, bar.close, bar.volume)
        for bar in bars
    ]
    async with asyncio.timeout(timeout_s), pool.acquire() as conn, conn.transaction():
        if copy:
            await conn.execute(_CREATE_STAGING)
            await conn.copy_records_to_table("ohlcv_1min_staging", records=records, columns=_COLUMNS)
            await conn.execute(_UPSERT_STAGED)
        else:
            await conn.execute(_UPSERT_ARRAYS, *([list(column) for column in zip(*records, strict=True)]))


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
