"""Symbols and universes in PostgreSQL: `PgUniverseStore` searches symbols and reads universes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg

from tickstock_server.domain.universes import (
    SymbolInfo,
    SymbolPage,
    SymbolSearch,
    Universe,
    UniverseKind,
    UniverseSummary,
)
from tickstock_server.errors import NotFoundError
from tickstock_server.storage.database import map_asyncpg_errors

_SYMBOL_COLUMNS = "symbol, name, exchange, market, type, sector, industry, active, currency, market_cap"

# $1: ticker prefix pattern, $2: name substring pattern ('' when no query), $3: market, $4: type
# ('' when not filtered), $5: the last ticker of the previous page ('' on the first), $6: rows to fetch.
# The prefix test uses the primary key's index; the name test has to scan, which at the size of a
# symbol table (thousands of rows) costs well under a millisecond.
_LIST_SYMBOLS = f"""
SELECT {_SYMBOL_COLUMNS}
FROM symbols
WHERE ($2::text = '' OR symbol LIKE $1::text OR name ILIKE $2::text)
  AND ($3::text = '' OR lower(market) = lower($3::text))
  AND ($4::text = '' OR upper(type) = upper($4::text))
  AND symbol > $5::text
ORDER BY symbol
LIMIT $6
"""

_LIST_UNIVERSES = """
SELECT u.name, u.description, u.kind, count(m.symbol) AS member_count
FROM universes AS u
LEFT JOIN universe_members AS m ON m.universe = u.name
GROUP BY u.name, u.description, u.kind
ORDER BY u.name
"""


class PgUniverseStore:
    """Reads the ``symbols``, ``universes`` and ``universe_members`` tables (migration 0003).

    The tables are written by `tickstock_server.storage.seed` (and by the historical loader for symbols);
    this store only reads. Input is checked by `tickstock_server.universes.service.UniverseCatalog`.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Use `pool`, which the caller owns and closes."""
        self._pool = pool

    async def list_symbols(self, search: SymbolSearch, *, after: str | None, limit: int) -> SymbolPage:
        """Return up to `limit` matching symbols sorted by ticker, those after `after` (None: from the first).

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        escaped = _escape_like(search.query)
        with map_asyncpg_errors():
            rows = await self._pool.fetch(
                _LIST_SYMBOLS,
                f"{escaped.upper()}%",
                f"%{escaped}%" if search.query else "",
                search.market,
                search.symbol_type,
                after or "",
                limit + 1,  # one more than the page tells whether another page follows
            )
        return SymbolPage(
            symbols=tuple(_symbol_from_row(row) for row in rows[:limit]), has_more=len(rows) > limit
        )

    async def get_symbol(self, symbol: str) -> SymbolInfo:
        """Return one symbol's reference data.

        Raises:
            NotFoundError: No such symbol.
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            row = await self._pool.fetchrow(
                f"SELECT {_SYMBOL_COLUMNS} FROM symbols WHERE symbol = $1", symbol
            )
        if row is None:
            raise NotFoundError(f"unknown symbol {symbol!r}")
        return _symbol_from_row(row)

    async def known_symbols(self, symbols: Sequence[str]) -> frozenset[str]:
        """Return those of `symbols` that exist.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            rows = await self._pool.fetch(
                "SELECT symbol FROM symbols WHERE symbol = ANY($1::text[])", list(symbols)
            )
        return frozenset(row["symbol"] for row in rows)

    async def list_universes(self) -> tuple[UniverseSummary, ...]:
        """Return every stored universe sorted by name, with member counts but not members.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            rows = await self._pool.fetch(_LIST_UNIVERSES)
        return tuple(
            UniverseSummary(
                name=row["name"],
                description=row["description"],
                kind=UniverseKind(row["kind"]),
                member_count=row["member_count"],
            )
            for row in rows
        )

    async def get_universe(self, name: str) -> Universe:
        """Return one stored universe with its members.

        Raises:
            NotFoundError: No universe of that name.
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        rows, members = await self._read_universes((name,))
        row = rows[name]
        return Universe(
            name=name, description=row["description"], kind=UniverseKind(row["kind"]), symbols=members
        )

    async def union_members(self, names: Sequence[str]) -> tuple[str, ...]:
        """Return the members of the universes together, sorted and distinct.

        Raises:
            NotFoundError: Naming every universe of `names` that does not exist.
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        _, members = await self._read_universes(tuple(dict.fromkeys(names)))
        return members

    async def _read_universes(
        self, names: tuple[str, ...]
    ) -> tuple[Mapping[str, asyncpg.Record], tuple[str, ...]]:
        """The rows of `names` and their members' union, read from one snapshot."""
        with map_asyncpg_errors():
            async with (
                self._pool.acquire() as conn,
                conn.transaction(isolation="repeatable_read", readonly=True),
            ):
                rows = await conn.fetch(
                    "SELECT name, description, kind FROM universes WHERE name = ANY($1::text[])", names
                )
                found = {row["name"]: row for row in rows}
                missing = [name for name in names if name not in found]
                if missing:
                    raise NotFoundError("unknown universe " + ", ".join(repr(name) for name in missing))
                member_rows = await conn.fetch(
                    "SELECT DISTINCT symbol FROM universe_members WHERE universe = ANY($1::text[])"
                    " ORDER BY symbol",
                    names,
                )
        return found, tuple(row["symbol"] for row in member_rows)


def _symbol_from_row(row: asyncpg.Record) -> SymbolInfo:
    return SymbolInfo(
        symbol=row["symbol"],
        name=row["name"],
        exchange=row["exchange"],
        market=row["market"],
        type=row["type"],
        sector=row["sector"],
        industry=row["industry"],
        active=row["active"],
        currency=row["currency"],
        market_cap_usd=row["market_cap"],
    )


def _escape_like(text: str) -> str:
    """Make `text` match itself literally inside a LIKE pattern (backslash is the escape character)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
