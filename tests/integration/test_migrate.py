from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tickstock_server.errors import MigrationError
from tickstock_server.storage.database import create_pool
from tickstock_server.storage.migrate import apply_migrations, load_migrations


def _known_versions() -> list[int]:
    return [migration.version for migration in load_migrations()]


async def _recorded_versions(pool: asyncpg.Pool) -> list[int]:
    rows = await pool.fetch("SELECT version FROM schema_migrations ORDER BY version")
    return [row["version"] for row in rows]


async def test_empty_database_applies_all_migrations(pg_pool: asyncpg.Pool) -> None:
    # Act
    applied = await apply_migrations(pg_pool)

    # Assert
    assert applied == _known_versions()
    assert await _recorded_versions(pg_pool) == _known_versions()
    assert await pg_pool.fetchval("SELECT to_regclass('api_keys') IS NOT NULL")


async def test_migrated_database_rerun_applies_none(pg_pool: asyncpg.Pool) -> None:
    # Arrange
    await apply_migrations(pg_pool)

    # Act
    applied = await apply_migrations(pg_pool)

    # Assert
    assert applied == []
    assert await _recorded_versions(pg_pool) == _known_versions()


async def test_database_newer_than_code_raises_migration_error(pg_pool: asyncpg.Pool) -> None:
    # Arrange
    await apply_migrations(pg_pool)
    newer = _known_versions()[-1] + 1
    await pg_pool.execute(
        "INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_the_future')", newer
    )

    # Act / Assert
    with pytest.raises(MigrationError, match=str(newer)):
        await apply_migrations(pg_pool)


async def test_concurrent_apply_from_two_pools_applies_each_migration_once(pg_database_url: str) -> None:
    # Arrange
    first = await create_pool(pg_database_url, min_size=1, max_size=2)
    second = await create_pool(pg_database_url, min_size=1, max_size=2)
    try:
        # Act
        results = await asyncio.gather(apply_migrations(first), apply_migrations(second))

        # Assert
        assert sorted(results[0] + results[1]) == _known_versions()
        assert await _recorded_versions(first) == _known_versions()
    finally:
        await first.close()
        await second.close()


def test_packaged_migrations_have_ascending_unique_versions_from_one() -> None:
    # Act
    versions = _known_versions()

    # Assert
    assert versions[0] == 1
    assert versions == sorted(set(versions))
