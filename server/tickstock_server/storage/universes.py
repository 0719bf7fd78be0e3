"""Symbols and universes in PostgreSQL: `PgUniverseStore` searches symbols and resolves universe keys."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from tickstock_server.domain.symbols import is_symbol
from tickstock_server.domain.universes import (
    SymbolInfo,
    SymbolPage,
    Universe,
    UniverseKind,
    UniverseSummary,
    parse_universe_key,
    union_key,
)
from tickstock_server.errors import FieldViolation, InvalidRequestError, NotFoundError
from tickstock_server.storage.database import map_asyncpg_errors

DEFAULT_PAGE_SIZE = 100
"""Symbols per page when the request gives no page size."""
MAX_PAGE_SIZE = 1000
"""Most symbols per page; larger requested sizes are reduced to it."""

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

_BAD_TOKEN = "is not a page token of a previous response with the same query, market and type"


class PgUniverseStore:
    """Reads the ``symbols``, ``universes`` and ``universe_members`` tables (migration 0003).

    The tables are written by `tickstock_server.storage.seed` (and by the historical loader for symbols);
    this store only reads.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Use `pool`, which the caller owns and closes."""
        self._pool = pool

    async def list_symbols(
        self,
        *,
        query: str = "",
        market: str = "",
        symbol_type: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> SymbolPage:
        """Return one page of symbols sorted by ticker.

        Args:
            query: Case-insensitive search: tickers starting with it, or names containing it; empty for all.
            market: Only this market (case-insensitive), e.g. "stocks"; empty for any.
            symbol_type: Only this security type (case-insensitive), e.g. "CS" or "ETF"; empty for any.
            page_size: Most symbols in the page; 0 means `DEFAULT_PAGE_SIZE`, more than `MAX_PAGE_SIZE`
                means `MAX_PAGE_SIZE`.
            page_token: `SymbolPage.next_page_token` of the previous page, requested with the same
                query, market and type; empty for the first page.

        Raises:
            InvalidRequestError: A negative page size, or a page token that is malformed or was issued
                for other filters.
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        if page_size < 0:
            raise InvalidRequestError([FieldViolation("page_size", "must not be negative")])
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        filters = (query, market, symbol_type)
        after = _decode_page_token(page_token, filters) if page_token else ""
        escaped = _escape_like(query)
        with map_asyncpg_errors():
            rows = await self._pool.fetch(
                _LIST_SYMBOLS,
                f"{escaped.upper()}%",
                f"%{escaped}%" if query else "",
                market,
                symbol_type,
                after,
                size + 1,  # one more than the page tells whether another page follows
            )
        symbols = tuple(_symbol_from_row(row) for row in rows[:size])
        next_token = _encode_page_token(symbols[-1].symbol, filters) if len(rows) > size else ""
        return SymbolPage(symbols=symbols, next_page_token=next_token)

    async def get_symbol(self, symbol: str) -> SymbolInfo:
        """Return one symbol's reference data.

        Raises:
            InvalidRequestError: `symbol` is not a ticker.
            NotFoundError: No such symbol.
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        if not is_symbol(symbol):
            raise InvalidRequestError([FieldViolation("symbol", "is not a ticker")])
        with map_asyncpg_errors():
            row = await self._pool.fetchrow(
                f"SELECT {_SYMBOL_COLUMNS} FROM symbols WHERE symbol = $1", symbol
            )
        if row is None:
            raise NotFoundError(f"unknown symbol {symbol!r}")
        return _symbol_from_row(row)

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

    async def get_universe(self, key: str) -> Universe:
        """Return a universe with its members; ``a:b`` returns the union of ``a`` and ``b``.

        A key naming one universe twice (``a:a``) is that universe.

        Raises:
            InvalidRequestError: The key is malformed (field ``name``).
            NotFoundError: A named universe does not exist.
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        names = parse_universe_key(key)
        rows, members = await self._read_universes(names)
        if len(names) == 1:
            row = rows[names[0]]
            return Universe(
                name=names[0], description=row["description"], kind=UniverseKind(row["kind"]), symbols=members
            )
        return Universe(
            name=union_key(names),
            description="Union of " + ", ".join(names),
            kind=UniverseKind.UNION,
            symbols=members,
        )

    async def resolve(self, keys: Sequence[str]) -> frozenset[str]:
        """Return the symbols of the union of every universe the keys name (each may itself be ``a:b``).

        Raises:
            InvalidRequestError: A key is malformed (field ``universes[i]``).
            NotFoundError: A named universe does not exist.
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        names: dict[str, None] = {}
        violations: list[FieldViolation] = []
        for index, key in enumerate(keys):
            try:
                names.update(dict.fromkeys(parse_universe_key(key, field=f"universes[{index}]")))
            except InvalidRequestError as exc:
                violations.extend(exc.violations)
        if violations:
            raise InvalidRequestError(violations)
        if not names:
            return frozenset()
        _, members = await self._read_universes(tuple(names))
        return frozenset(members)

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


def _filters_digest(filters: tuple[str, str, str]) -> str:
    # A digest rather than the filters themselves keeps tokens short and opaque; it only has to tell
    # "same filters" from "different filters".
    return hashlib.sha256(json.dumps(filters).encode()).hexdigest()[:16]


def _encode_page_token(after: str, filters: tuple[str, str, str]) -> str:
    payload = json.dumps({"a": after, "f": _filters_digest(filters)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode_page_token(token: str, filters: tuple[str, str, str]) -> str:
    """The last ticker of the previous page, from a token issued for the same `filters`."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload: Any = json.loads(raw)
    except (binascii.Error, ValueError):
        payload = None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("a"), str)
        or payload.get("f") != _filters_digest(filters)
    ):
        raise InvalidRequestError([FieldViolation("page_token", _BAD_TOKEN)])
    after: str = payload["a"]
    return after
