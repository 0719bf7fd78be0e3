"""Filter presets in PostgreSQL: `PgFilterPresetStore` keeps each user's named event-stream filters."""

from __future__ import annotations

import json

import asyncpg

from tickstock_server.domain.filter_spec import FilterSpec, StoredPreset
from tickstock_server.errors import LimitExceededError, NotFoundError
from tickstock_server.storage.database import map_asyncpg_errors
from tickstock_server.storage.timestamps import ns_from_datetime

# First key of the two-key advisory lock serialising one user's saves, so concurrent saves cannot both
# pass the per-user count check; the second key is hashtext(user name).
_LOCK_NAMESPACE = 0x5F11

DEFAULT_MAX_PRESETS_PER_USER = 50


class PgFilterPresetStore:
    """The ``filter_presets`` table (migration 0007). Every call is scoped to one user."""

    def __init__(self, pool: asyncpg.Pool, *, max_per_user: int = DEFAULT_MAX_PRESETS_PER_USER) -> None:
        """Use `pool` (owned by the caller); a user may keep at most `max_per_user` presets."""
        self._pool = pool
        self._max_per_user = max_per_user

    async def save(self, user: str, name: str, spec: FilterSpec) -> StoredPreset:
        """Create or replace the preset `name` of `user` (the name must already be validated).

        Raises:
            LimitExceededError: A new preset beyond the per-user limit.
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_NAMESPACE, user)
                others = await conn.fetchval(
                    "SELECT count(*) FROM filter_presets WHERE user_name = $1 AND name <> $2", user, name
                )
                if others >= self._max_per_user:
                    raise LimitExceededError(f"a user may keep at most {self._max_per_user} filter presets")
                row = await conn.fetchrow(
                    "INSERT INTO filter_presets (user_name, name, filter) VALUES ($1, $2, $3::jsonb)"
                    " ON CONFLICT (user_name, name)"
                    " DO UPDATE SET filter = EXCLUDED.filter, updated_at = now()"
                    " RETURNING name, filter, updated_at",
                    user,
                    name,
                    json.dumps(spec.to_json()),
                )
        return _preset_from_row(row)

    async def list(self, user: str) -> tuple[StoredPreset, ...]:
        """The presets of `user` sorted by name."""
        with map_asyncpg_errors():
            rows = await self._pool.fetch(
                "SELECT name, filter, updated_at FROM filter_presets WHERE user_name = $1 ORDER BY name", user
            )
        return tuple(_preset_from_row(row) for row in rows)

    async def get(self, user: str, name: str) -> StoredPreset:
        """One preset of `user`; NotFoundError when there is none of that name."""
        with map_asyncpg_errors():
            row = await self._pool.fetchrow(
                "SELECT name, filter, updated_at FROM filter_presets WHERE user_name = $1 AND name = $2",
                user,
                name,
            )
        if row is None:
            raise NotFoundError(f"no filter preset named {name!r}")
        return _preset_from_row(row)

    async def delete(self, user: str, name: str) -> None:
        """Delete a preset of `user`; NotFoundError when there is none of that name."""
        with map_asyncpg_errors():
            status = await self._pool.execute(
                "DELETE FROM filter_presets WHERE user_name = $1 AND name = $2", user, name
            )
        if status == "DELETE 0":
            raise NotFoundError(f"no filter preset named {name!r}")


def _preset_from_row(row: asyncpg.Record) -> StoredPreset:
    return StoredPreset(
        name=row["name"],
        spec=FilterSpec.from_json(json.loads(row["filter"])),
        update_ns=ns_from_datetime(row["updated_at"]),
    )
