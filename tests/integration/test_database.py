from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tickstock_server.errors import DependencyUnavailableError
from tickstock_server.storage.database import create_pool, redact_url


async def test_reachable_server_gives_working_pool(postgres_url: str) -> None:
    # Act
    pool = await create_pool(postgres_url, min_size=1, max_size=1)

    # Assert
    try:
        assert await pool.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


async def test_unreachable_server_raises_dependency_unavailable_without_password(tmp_path: Path) -> None:
    # Arrange: a socket directory where no server listens.
    url = f"postgresql://tickstock:s3cret-pw@/tickstock?host={tmp_path}"

    # Act
    with pytest.raises(DependencyUnavailableError) as excinfo:
        await create_pool(url, connect_attempts=2, retry_delay_s=0.01)

    # Assert
    assert "s3cret-pw" not in str(excinfo.value)
    assert str(tmp_path) in str(excinfo.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:pw@db:5432/x", "postgresql://u@db:5432/x"),
        ("postgresql://u@/x?host=/run/pg&password=pw", "postgresql://u@/x?host=/run/pg"),
        ("postgresql://db/x", "postgresql://db/x"),
    ],
)
def test_url_with_password_redacts_password(url: str, expected: str) -> None:
    # Act
    redacted = redact_url(url)

    # Assert
    assert redacted == expected


async def test_connections_idle_past_idle_close_s_are_closed_down_to_min_size(postgres_url: str) -> None:
    # Arrange: a burst opens a second connection.
    pool = await create_pool(postgres_url, min_size=1, max_size=2, idle_close_s=0.2)
    try:
        async with pool.acquire() as first, pool.acquire() as second:
            backends = {
                await first.fetchval("SELECT pg_backend_pid()"),
                await second.fetchval("SELECT pg_backend_pid()"),
            }
        opened = pool.get_size()

        # Act: both stay unused for longer than idle_close_s.
        await asyncio.sleep(1.5)
        async with pool.acquire() as connection:
            still_open = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", list(backends)
            )
        kept = pool.get_size()
    finally:
        await pool.close()

    # Assert: the backend process beyond min_size ended; the floor connection stayed.
    assert (opened, kept, still_open) == (2, 1, 1)
