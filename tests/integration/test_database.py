from __future__ import annotations

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
