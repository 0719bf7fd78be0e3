"""Stored one-minute bars of many symbols in time order, for the bars feed's replay."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from tickstock_server.domain.bar import Bar
from tickstock_server.storage.bars import bar_from_row
from tickstock_server.storage.database import map_asyncpg_errors
from tickstock_server.storage.timestamps import datetime_from_ns

__all__ = ["PgMinuteBarHistory"]

# symbol = ANY(...) with the ts range lets the (symbol, ts) primary key serve one range per symbol, so a
# query reads only the window's rows, however long the table's history.
_WINDOW = """
SELECT symbol, ts, open, high, low, close, volume FROM ohlcv_1min
WHERE symbol = ANY($1::text[]) AND ts >= $2 AND ts < $3
ORDER BY ts, symbol
"""

_SYMBOLS = "SELECT DISTINCT symbol FROM ohlcv_1min WHERE ts >= $1 AND ts < $2 ORDER BY symbol"


class PgMinuteBarHistory:
    """`MinuteBarHistory` over ``ohlcv_1min``."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Read through `pool` (owned by the caller)."""
        self._pool = pool

    async def symbols_between(self, start_ns: int, end_ns: int) -> list[str]:
        """The symbols with a bar starting in [start_ns, end_ns), sorted.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            rows = await self._pool.fetch(_SYMBOLS, datetime_from_ns(start_ns), datetime_from_ns(end_ns))
        return [row["symbol"] for row in rows]

    async def minute_bars(self, symbols: Sequence[str], start_ns: int, end_ns: int) -> list[Bar]:
        """The bars of `symbols` starting in [start_ns, end_ns), ordered by (start, symbol).

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            rows = await self._pool.fetch(
                _WINDOW, list(symbols), datetime_from_ns(start_ns), datetime_from_ns(end_ns)
            )
        return [bar_from_row(row["symbol"], row, "ts") for row in rows]
