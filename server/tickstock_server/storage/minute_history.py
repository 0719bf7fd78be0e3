"""Stored one-minute bars of many symbols in time order, for the bars feed's replay."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from tickstock_server.domain.bar import Bar
from tickstock_server.storage.bars import bar_from_row
from tickstock_server.storage.database import map_asyncpg_errors
from tickstock_server.storage.timestamps import datetime_from_ns

__all__ = ["PgMinuteBarHistory"]

# Keyset paging on (ts, symbol): a page starts right after the last row of the previous one.
_PAGE = """
SELECT symbol, ts, open, high, low, close, volume FROM ohlcv_1min
WHERE ts >= $1 AND ts < $2 AND ($3::text[] IS NULL OR symbol = ANY($3::text[]))
  AND (ts, symbol) > ($4::timestamptz, $5::text)
ORDER BY ts, symbol LIMIT $6
"""


class PgMinuteBarHistory:
    """`MinuteBarHistory` over ``ohlcv_1min``."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Read through `pool` (owned by the caller)."""
        self._pool = pool

    async def minute_bars_page(
        self,
        symbols: Sequence[str] | None,
        start_ns: int,
        end_ns: int,
        *,
        after: tuple[int, str] | None,
        limit: int,
    ) -> list[Bar]:
        """Up to `limit` bars in [start_ns, end_ns) of `symbols`, by (start, symbol), after `after`.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        after_ns, after_symbol = after if after is not None else (start_ns - 1, "")
        with map_asyncpg_errors():
            rows = await self._pool.fetch(
                _PAGE,
                datetime_from_ns(start_ns),
                datetime_from_ns(end_ns),
                None if symbols is None else list(symbols),
                datetime_from_ns(after_ns),
                after_symbol,
                limit,
            )
        return [bar_from_row(row["symbol"], row, "ts") for row in rows]
