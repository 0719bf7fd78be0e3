"""Versioned SQL schema migrations, applied in order and recorded in ``schema_migrations``."""

from __future__ import annotations

import importlib.resources
import logging
import re
from dataclasses import dataclass

import asyncpg

from tickstock_server.errors import MigrationError
from tickstock_server.storage.database import map_asyncpg_errors
from tickstock_server.storage.timescale import convert_when_available

_logger = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")

# One fixed key ("tickstok" in ASCII) for pg_advisory_lock, so that servers starting together against
# the same database apply migrations one after the other.
_LOCK_KEY = int.from_bytes(b"tickstok", "big") & 0x7FFF_FFFF_FFFF_FFFF

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    int PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """One migration file ``NNNN_name.sql``."""

    version: int
    """The ``NNNN`` prefix; migrations run in ascending version order."""
    name: str
    """The file name between prefix and ``.sql``."""
    sql: str
    """The statements, run in one transaction."""


def load_migrations() -> list[Migration]:
    """Read the packaged migration files, in version order.

    Raises:
        MigrationError: A ``.sql`` file is misnamed or two files share a version.
    """
    migrations: dict[int, Migration] = {}
    directory = importlib.resources.files("tickstock_server.storage") / "migrations"
    for entry in directory.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.fullmatch(entry.name)
        if match is None:
            raise MigrationError(f"migration file {entry.name!r} is not named NNNN_lower_snake_case.sql")
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(f"two migration files have version {version}")
        migrations[version] = Migration(version=version, name=match.group(2), sql=entry.read_text("utf-8"))
    return [migrations[version] for version in sorted(migrations)]


async def apply_migrations(pool: asyncpg.Pool) -> list[int]:
    """Apply the packaged migrations the database lacks, each in its own transaction.

    Then, where TimescaleDB has become usable since the bar tables were created plain, converts them
    (see `convert_when_available`).

    Concurrent callers (several servers starting at once) are serialised with an advisory lock, so each
    migration runs exactly once.

    Args:
        pool: Pool on the target database.

    Returns:
        The versions applied by this call, ascending; empty when the schema was up to date.

    Raises:
        MigrationError: The database records a version this code does not know (it was migrated by a
            newer TickStock), or the migration files are bad.
        DependencyUnavailableError: The database became unreachable.
    """
    migrations = load_migrations()
    with map_asyncpg_errors():
        async with pool.acquire() as conn:
            # A session lock: released by the unlock below, else by asyncpg's reset when the connection
            # goes back to the pool, or by the server when the connection dies.
            await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
            try:
                return await _apply_locked(conn, migrations)
            finally:
                if not conn.is_closed():
                    await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def _apply_locked(conn: asyncpg.Connection, migrations: list[Migration]) -> list[int]:
    await conn.execute(_CREATE_TABLE)
    applied = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
    unknown = sorted(applied - {migration.version for migration in migrations})
    if unknown:
        known = migrations[-1].version if migrations else 0
        raise MigrationError(
            f"the database has schema versions {unknown} that this TickStock does not know (it knows up to "
            f"{known}); it was migrated by a newer release"
        )
    applied_now: list[int] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        async with conn.transaction():
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
        _logger.info("applied schema migration %04d_%s", migration.version, migration.name)
        applied_now.append(migration.version)
    if 2 in applied or 2 in applied_now:
        await convert_when_available(conn)
    return applied_now
