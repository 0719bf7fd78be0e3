"""The fault suite: real processes on loopback, killed, paused and restarted while clients stream.

Every test here is marked `integration`. A test reports its figures (time to recover, health
transitions) with the `figure` fixture; `tests/fault_figures.py` prints them at the end of the run, with
or without `-s` and under pytest-xdist (they travel with the test's report).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from databases import with_database
from fault_figures import FIGURE
from fault_run import Figure
from owned_servers import OwnedRedis

from tickstock_server.embedded import EmbeddedPostgres

_HERE = Path(__file__).parent
FAULT_TEST_TIMEOUT_S = 300


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)
            # Three service processes start, a fault lasts (PostgreSQL's stop 60 s) and they recover, on
            # two cores that another pytest lane shares.
            item.add_marker(pytest.mark.timeout(FAULT_TEST_TIMEOUT_S))


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Figure:
    """Record a `name: value unit` line for the run's summary."""

    def record(name: str, value: float, unit: str) -> None:
        request.node.user_properties.append((FIGURE, f"{name}: {value:.2f} {unit}"))

    return record


@pytest.fixture
def owned_redis(tmp_path: Path) -> Iterator[OwnedRedis]:
    """A Redis with an append-only file on a port and data directory of its own, for the test to kill."""
    redis = OwnedRedis(tmp_path / "redis")
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture
async def owned_postgres(tmp_path: Path) -> AsyncIterator[tuple[Path, str]]:
    """An embedded PostgreSQL this test may stop or kill: its cluster directory and a database's URL."""
    directory = tmp_path / "postgres"
    server = EmbeddedPostgres(directory)
    await asyncio.to_thread(server.start)
    try:
        admin = await asyncpg.connect(server.url)
        try:
            await admin.execute("CREATE DATABASE faults")
        finally:
            await admin.close()
        yield directory, with_database(server.url, "faults")
    finally:
        await asyncio.to_thread(server.stop)
