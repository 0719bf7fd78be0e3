"""API keys in PostgreSQL: `PgApiKeyStore` keeps each key's id, user and secret hash, never the secret."""

from __future__ import annotations

import secrets
from collections.abc import Collection

import asyncpg

from tickstock_server.domain.api_keys import (
    IssuedKey,
    Principal,
    check_user_name,
    hash_secret,
    new_token,
    parse_token,
    secret_matches,
)
from tickstock_server.domain.session_tokens import SECRET_BYTES
from tickstock_server.storage.database import map_asyncpg_errors

# A 48-bit key id collides only by bad luck; retrying covers that without scanning for free ids.
_CREATE_ATTEMPTS = 3


class PgApiKeyStore:
    """`ApiKeyStore` on the ``api_keys`` table (migration 0001)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Use `pool`, which the caller owns and closes."""
        self._pool = pool

    async def create(self, user: str) -> IssuedKey:
        """Create a key for `user`; only the SHA-256 of its secret is stored.

        Raises:
            InvalidRequestError: The user name is invalid.
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        check_user_name(user)
        for attempt in range(1, _CREATE_ATTEMPTS + 1):
            token, parts = new_token()
            try:
                with map_asyncpg_errors():
                    await self._pool.execute(
                        "INSERT INTO api_keys (key_id, user_name, secret_sha256) VALUES ($1, $2, $3)",
                        parts.key_id,
                        user,
                        hash_secret(parts.secret),
                    )
            except asyncpg.UniqueViolationError:
                if attempt == _CREATE_ATTEMPTS:
                    raise
                continue
            return IssuedKey(key_id=parts.key_id, user=user, token=token)
        raise AssertionError("unreachable")

    async def verify(self, token: str) -> Principal | None:
        """Return the principal of a well-formed, known, unrevoked token with the right secret, else None.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        parts = parse_token(token)
        if parts is None:
            return None
        with map_asyncpg_errors():
            row = await self._pool.fetchrow(
                "SELECT user_name, secret_sha256 FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL",
                parts.key_id,
            )
        if row is None or not secret_matches(parts.secret, row["secret_sha256"]):
            return None
        return Principal(user=row["user_name"], key_id=parts.key_id)

    async def is_active(self, key_id: str) -> bool:
        """True while the key exists and is not revoked.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            found = await self._pool.fetchval(
                "SELECT true FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL", key_id
            )
        return found is True

    async def revoked(self, key_ids: Collection[str]) -> set[str]:
        """Those of `key_ids` that are revoked, in one query (the primary key finds each).

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            rows = await self._pool.fetch(
                "SELECT key_id FROM api_keys WHERE key_id = ANY($1::text[]) AND revoked_at IS NOT NULL",
                list(key_ids),
            )
        return {row["key_id"] for row in rows}

    async def session_secret(self) -> bytes:
        """The session token secret (migration 0008), created atomically by the first caller.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            await self._pool.execute(
                "INSERT INTO session_secret (secret) VALUES ($1) ON CONFLICT DO NOTHING",
                secrets.token_bytes(SECRET_BYTES),
            )
            secret: bytes = await self._pool.fetchval("SELECT secret FROM session_secret")
        return secret

    async def revoke(self, key_id: str) -> bool:
        """Revoke a key; True if it existed and was not revoked yet.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            status: str = await self._pool.execute(
                "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL", key_id
            )
        # The command tag reads "UPDATE <rows>".
        return status == "UPDATE 1"
