"""Integration tests: every test here is marked `integration`; the real Redis and PostgreSQL fixtures
are in `tests/real_servers.py`, shared with the fault suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from timescale_bridge import running_bridge, schema_pool

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def pglite_timescale_url() -> Iterator[str]:
    """URL of PGlite with the TimescaleDB extension installed, for the session (see timescale_bridge)."""
    with running_bridge() as url:
        yield url


@pytest.fixture
async def timescale_pool(pglite_timescale_url: str) -> AsyncIterator[asyncpg.Pool]:
    """One-connection pool on a fresh schema of PGlite with TimescaleDB installed."""
    connection = await asyncpg.connect(pglite_timescale_url)
    try:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    finally:
        await connection.close()
    async with schema_pool(pglite_timescale_url) as pool:
        yield pool
