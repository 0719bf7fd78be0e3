"""Watchlists in PostgreSQL: `PgWatchlistStore` keeps each user's named symbol lists, visible to them only."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from tickstock_server.domain.universes import (
    Watchlist,
    WatchlistLimits,
    watchlist_name_violations,
    watchlist_symbol_violations,
)
from tickstock_server.errors import (
    AlreadyExistsError,
    FieldViolation,
    InvalidRequestError,
    LimitExceededError,
    NotFoundError,
)
from tickstock_server.storage.database import map_asyncpg_errors
from tickstock_server.storage.timestamps import ns_from_datetime

# First key of the two-key advisory lock that serialises one user's creates, so that two concurrent
# creates cannot both pass the per-user count check. The second key is hashtext(user name).
_LOCK_NAMESPACE = 0x5715  # "WLS"-ish; only needs to differ from other two-key locks of this database

_COLUMNS = "watchlist_id, user_name, name, symbols, created_at, updated_at"


class PgWatchlistStore:
    """The ``watchlists`` table (migration 0003). Every call is scoped to one user.

    Another user's watchlist behaves exactly like one that does not exist (`NotFoundError`), so ids
    reveal nothing across users.
    """

    def __init__(self, pool: asyncpg.Pool, limits: WatchlistLimits | None = None) -> None:
        """Use `pool`, which the caller owns and closes, with `limits` (defaults when omitted)."""
        self._pool = pool
        self._limits = limits or WatchlistLimits()

    async def create(self, user: str, name: str, symbols: Sequence[str]) -> Watchlist:
        """Create a watchlist of `user`.

        Args:
            user: Owner.
            name: Name, unique among the owner's watchlists.
            symbols: Known tickers in the user's order, each at most once.

        Raises:
            InvalidRequestError: A bad name, or malformed, repeated or unknown tickers (fields
                ``watchlist.name``, ``watchlist.symbols[i]``).
            LimitExceededError: Too many symbols, or the user already has the most watchlists allowed.
            AlreadyExistsError: The user has a watchlist of that name.
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        self._check_symbol_count(symbols)
        with map_asyncpg_errors():
            async with self._pool.acquire() as conn:
                await _check_fields(conn, name, symbols)
                async with conn.transaction():
                    await conn.execute(
                        "SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_NAMESPACE, user
                    )
                    count = await conn.fetchval("SELECT count(*) FROM watchlists WHERE user_name = $1", user)
                    if count >= self._limits.max_watchlists_per_user:
                        raise LimitExceededError(
                            f"a user may have at most {self._limits.max_watchlists_per_user} watchlists"
                        )
                    try:
                        row = await conn.fetchrow(
                            "INSERT INTO watchlists (user_name, name, symbols) VALUES ($1, $2, $3)"
                            f" RETURNING {_COLUMNS}",
                            user,
                            name,
                            list(symbols),
                        )
                    except asyncpg.UniqueViolationError as exc:
                        raise AlreadyExistsError(f"a watchlist named {name!r} already exists") from exc
        return _watchlist_from_row(row)

    async def list(self, user: str) -> tuple[Watchlist, ...]:
        """Return the watchlists of `user`, sorted by name.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            rows = await self._pool.fetch(
                f'SELECT {_COLUMNS} FROM watchlists WHERE user_name = $1 ORDER BY name COLLATE "C"', user
            )
        return tuple(_watchlist_from_row(row) for row in rows)

    async def get(self, user: str, watchlist_id: str) -> Watchlist:
        """Return one watchlist of `user`.

        Raises:
            NotFoundError: No such watchlist of `user` (including another user's, and malformed ids).
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        key = _parse_id(watchlist_id)
        with map_asyncpg_errors():
            row = await self._pool.fetchrow(
                f"SELECT {_COLUMNS} FROM watchlists WHERE watchlist_id = $1 AND user_name = $2", key, user
            )
        if row is None:
            raise _not_found(watchlist_id)
        return _watchlist_from_row(row)

    async def update(
        self,
        user: str,
        watchlist_id: str,
        *,
        name: str | None = None,
        symbols: Sequence[str] | None = None,
    ) -> Watchlist:
        """Change the name and/or the symbols of one watchlist of `user`; None leaves a field as it is.

        Raises:
            NotFoundError: No such watchlist of `user` (including another user's, and malformed ids).
            InvalidRequestError: A bad name, or malformed, repeated or unknown tickers.
            LimitExceededError: Too many symbols.
            AlreadyExistsError: The user has another watchlist of the new name.
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        key = _parse_id(watchlist_id)
        if symbols is not None:
            self._check_symbol_count(symbols)
        with map_asyncpg_errors():
            async with self._pool.acquire() as conn:
                await _check_fields(conn, name, symbols)
                try:
                    row = await conn.fetchrow(
                        "UPDATE watchlists SET name = COALESCE($3, name), symbols = COALESCE($4, symbols),"
                        " updated_at = now()"
                        f" WHERE watchlist_id = $1 AND user_name = $2 RETURNING {_COLUMNS}",
                        key,
                        user,
                        name,
                        None if symbols is None else list(symbols),
                    )
                except asyncpg.UniqueViolationError as exc:
                    raise AlreadyExistsError(f"a watchlist named {name!r} already exists") from exc
        if row is None:
            raise _not_found(watchlist_id)
        return _watchlist_from_row(row)

    async def delete(self, user: str, watchlist_id: str) -> None:
        """Delete one watchlist of `user`.

        Raises:
            NotFoundError: No such watchlist of `user` (including another user's, and malformed ids).
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        key = _parse_id(watchlist_id)
        with map_asyncpg_errors():
            status: str = await self._pool.execute(
                "DELETE FROM watchlists WHERE watchlist_id = $1 AND user_name = $2", key, user
            )
        # The command tag reads "DELETE <rows>".
        if status != "DELETE 1":
            raise _not_found(watchlist_id)

    def _check_symbol_count(self, symbols: Sequence[str]) -> None:
        # Checked before anything else, so that an oversized request costs no per-symbol work.
        if len(symbols) > self._limits.max_symbols_per_watchlist:
            raise LimitExceededError(
                f"a watchlist may hold at most {self._limits.max_symbols_per_watchlist} symbols,"
                f" not {len(symbols)}"
            )


async def _check_fields(conn: asyncpg.Connection, name: str | None, symbols: Sequence[str] | None) -> None:
    """Raise `InvalidRequestError` listing every bad field: name, malformed/repeated and unknown tickers."""
    violations: list[FieldViolation] = []
    if name is not None:
        violations.extend(watchlist_name_violations(name))
    if symbols is not None:
        malformed = watchlist_symbol_violations(symbols)
        violations.extend(malformed)
        if not malformed and symbols:
            rows = await conn.fetch(
                "SELECT symbol FROM symbols WHERE symbol = ANY($1::text[])", list(symbols)
            )
            known = {row["symbol"] for row in rows}
            violations.extend(
                FieldViolation(f"watchlist.symbols[{index}]", f"unknown symbol {symbol!r}")
                for index, symbol in enumerate(symbols)
                if symbol not in known
            )
    if violations:
        raise InvalidRequestError(violations)


def _parse_id(watchlist_id: str) -> uuid.UUID:
    # A malformed id names no watchlist: NOT_FOUND, like any other id the caller does not own.
    try:
        return uuid.UUID(watchlist_id)
    except ValueError as exc:
        raise _not_found(watchlist_id) from exc


def _not_found(watchlist_id: str) -> NotFoundError:
    return NotFoundError(f"no watchlist {watchlist_id!r}")


def _watchlist_from_row(row: asyncpg.Record) -> Watchlist:
    return Watchlist(
        watchlist_id=str(row["watchlist_id"]),
        user=row["user_name"],
        name=row["name"],
        symbols=tuple(row["symbols"]),
        create_ns=ns_from_datetime(row["created_at"]),
        update_ns=ns_from_datetime(row["updated_at"]),
    )
