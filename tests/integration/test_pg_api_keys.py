"""PgApiKeyStore honours the ApiKeyStore contract on a real PostgreSQL, and stores only hashes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from api_key_store_contract import ApiKeyStoreContract

from tickstock_server.domain.api_keys import hash_secret, parse_token
from tickstock_server.errors import DependencyUnavailableError
from tickstock_server.storage.api_keys import PgApiKeyStore
from tickstock_server.storage.database import create_pool
from tickstock_server.storage.migrate import apply_migrations


@pytest.fixture
async def pg_store(pg_pool: asyncpg.Pool) -> AsyncIterator[PgApiKeyStore]:
    await apply_migrations(pg_pool)
    yield PgApiKeyStore(pg_pool)


class TestPgApiKeyStore(ApiKeyStoreContract):
    @pytest.fixture
    def store(self, pg_store: PgApiKeyStore) -> PgApiKeyStore:
        return pg_store


async def test_stored_row_holds_hash_not_secret(pg_store: PgApiKeyStore, pg_pool: asyncpg.Pool) -> None:
    # Arrange
    issued = await pg_store.create("alice")
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


async def test_every_replica_reads_the_same_session_secret(pg_pool: asyncpg.Pool) -> None:
    # Two stores over one database stand for two replicas: the first creates the secret, both read it.
    await apply_migrations(pg_pool)

    secrets = [await PgApiKeyStore(pg_pool).session_secret() for _ in range(2)]

    assert secrets[0] == secrets[1]
    assert await pg_pool.fetchval("SELECT count(*) FROM session_secret") == 1
