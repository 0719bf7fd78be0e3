"""Watchlists in PostgreSQL: `PgWatchlistStore` keeps each user's named symbol lists, visible to them only."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from tickstock_server.domain.universes import Watchlist, watchlist_not_found
from tickstock_server.errors import AlreadyExistsError
from tickstock_server.storage.database import map_asyncpg_errors
from tickstock_server.storage.timestamps import ns_from_datetime

# First key of the two-key advisory lock that serialises one user's creates, so that two concurrent
# creates cannot both pass the per-user count check. The second key is hashtext(user name).
_LOCK_NAMESPACE = 0x5715  # "WLS"-ish; only needs to differ from other two-key locks of this database

_COLUMNS = "watchlist_id, user_name, name, symbols, created_at, updated_at"


class PgWatchlistStore:
    """The ``watchlists`` table (migration 0003). Every call is scoped to one user.

    Another user's watchlist behaves exactly like one that does not exist (`NotFoundError`), so ids
    reveal nothing across users. Names, symbols and limits are checked by
    `tickstock_server.universes.service.Watchlists`; this store only translates.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Use `pool`, which the caller owns and closes."""
        self._pool = pool

    def is_watchlist_id(self, watchlist_id: str) -> bool:
        """Whether `watchlist_id` is a UUID, the form of the ids this store assigns."""
        return _uuid_or_none(watchlist_id) is not None

    async def create(
        self, user: str, name: str, symbols: Sequence[str], *, max_per_user: int
    ) -> Watchlist | None:
        """Store a new watchlist of `user`, unless `user` already has `max_per_user`: then return None.

        The count and the insert run under a per-user lock, so concurrent creates never exceed it.

        Raises:
            AlreadyExistsError: The user has a watchlist of that name.
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_NAMESPACE, user)
                count = await conn.fetchval("SELECT count(*) FROM watchlists WHERE user_name = $1", user)
                if count >= max_per_user:
                    return None
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
            raise watchlist_not_found(watchlist_id)
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
            AlreadyExistsError: The user has another watchlist of the new name.
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        key = _parse_id(watchlist_id)
        with map_asyncpg_errors():
            try:
                row = await self._pool.fetchrow(
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
            raise watchlist_not_found(watchlist_id)
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
            raise watchlist_not_found(watchlist_id)


def _uuid_or_none(watchlist_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(watchlist_id)
    except ValueError:
        return None


def _parse_id(watchlist_id: str) -> uuid.UUID:
    # A malformed id names no watchlist: NOT_FOUND, like any other id the caller does not own.
    key = _uuid_or_none(watchlist_id)
    if key is None:
        raise watchlist_not_found(watchlist_id)
    return key


def _watchlist_from_row(row: asyncpg.Record) -> Watchlist:
    return Watchlist(
        watchlist_id=str(row["watchlist_id"]),
        user=row["user_name"],
        name=row["name"],
        symbols=tuple(row["symbols"]),
        create_ns=ns_from_datetime(row["created_at"]),
        update_ns=ns_from_datetime(row["updated_at"]),
    )
