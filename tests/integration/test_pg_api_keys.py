from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from tickstock_server.domain.api_keys import hash_secret, parse_token
from tickstock_server.errors import DependencyUnavailableError, FieldViolation, InvalidRequestError
from tickstock_server.ports import Principal
from tickstock_server.storage.api_keys import PgApiKeyStore
from tickstock_server.storage.database import create_pool
from tickstock_server.storage.migrate import apply_migrations


@pytest.fixture
async def store(pg_pool: asyncpg.Pool) -> AsyncIterator[PgApiKeyStore]:
    await apply_migrations(pg_pool)
    yield PgApiKeyStore(pg_pool)


async def test_created_key_verifies_to_its_principal(store: PgApiKeyStore) -> None:
    # Arrange
    issued = await store.create("alice@example.com")

    # Act
    principal = await store.verify(issued.token)

    # Assert
    assert principal == Principal(user="alice@example.com", key_id=issued.key_id)
    assert issued.user == "alice@example.com"


async def test_wrong_secret_returns_none(store: PgApiKeyStore) -> None:
    # Arrange
    issued = await store.create("alice")
    forged = f"tsk_{issued.key_id}_{'A' * 43}"

    # Act
    principal = await store.verify(forged)

    # Assert
    assert principal is None


async def test_unknown_key_id_returns_none(store: PgApiKeyStore) -> None:
    # Arrange
    issued = await store.create("alice")
    parts = parse_token(issued.token)
    assert parts is not None
    unknown = f"tsk_{'0' * 12}_{parts.secret}"

    # Act
    principal = await store.verify(unknown)

    # Assert
    assert principal is None


@pytest.mark.parametrize("token", ["", "tsk_", "Bearer tsk_abc", "tsk_0123456789ab_short", "x" * 60])
async def test_malformed_token_returns_none(store: PgApiKeyStore, token: str) -> None:
    # Act
    principal = await store.verify(token)

    # Assert
    assert principal is None


async def test_revoked_key_returns_none(store: PgApiKeyStore) -> None:
    # Arrange
    issued = await store.create("alice")

    # Act
    revoked = await store.revoke(issued.key_id)

    # Assert
    assert revoked is True
    assert await store.verify(issued.token) is None


async def test_revoking_twice_or_unknown_key_returns_false(store: PgApiKeyStore) -> None:
    # Arrange
    issued = await store.create("alice")
    await store.revoke(issued.key_id)

    # Act
    again = await store.revoke(issued.key_id)
    unknown = await store.revoke("0" * 12)

    # Assert
    assert again is False
    assert unknown is False


@pytest.mark.parametrize("user", ["", "a" * 65, "alice smith", "bob/../x", "ünïcode", "eve\n"])
async def test_invalid_user_name_raises_invalid_request_with_field_violation(
    store: PgApiKeyStore, user: str
) -> None:
    # Act
    with pytest.raises(InvalidRequestError) as excinfo:
        await store.create(user)

    # Assert
    assert [violation.field for violation in excinfo.value.violations] == ["user"]
    assert isinstance(excinfo.value.violations[0], FieldViolation)


async def test_stored_row_holds_hash_not_secret(store: PgApiKeyStore, pg_pool: asyncpg.Pool) -> None:
    # Arrange
    issued = await store.create("alice")
    parts = parse_token(issued.token)
    assert parts is not None

    # Act
    row = await pg_pool.fetchrow("SELECT * FROM api_keys WHERE key_id = $1", issued.key_id)

    # Assert
    assert row is not None
    assert row["secret_sha256"] == hash_secret(parts.secret)
    assert all(parts.secret not in str(value) for value in row.values())
    assert row["user_name"] == "alice"
    assert row["revoked_at"] is None


async def test_closed_pool_raises_dependency_unavailable(pg_database_url: str) -> None:
    # Arrange
    pool = await create_pool(pg_database_url, min_size=1, max_size=1)
    await apply_migrations(pool)
    store = PgApiKeyStore(pool)
    await pool.close()

    # Act / Assert
    with pytest.raises(DependencyUnavailableError):
        await store.verify("tsk_0123456789ab_" + "A" * 43)
