"""In-memory fake of the API key port, with the PostgreSQL store's validation and hashing."""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass

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


@dataclass(slots=True, kw_only=True)
class _StoredKey:
    user: str
    secret_sha256: str
    revoked: bool = False


class MemoryApiKeyStore:
    """`ApiKeyStore` in a dict, like `PgApiKeyStore` it keeps only secret hashes."""

    def __init__(self) -> None:
        """Start with no keys."""
        self._keys: dict[str, _StoredKey] = {}
        self._session_secret = secrets.token_bytes(SECRET_BYTES)
        self.verifications = 0
        """Calls of `verify`: what a cache in front of the store saves."""
        self.revoked_queries = 0
        """Calls of `revoked`."""

    async def create(self, user: str) -> IssuedKey:
        """Create a key for `user`.

        Raises:
            InvalidRequestError: The user name is invalid.
        """
        check_user_name(user)
        token, parts = new_token()
        while parts.key_id in self._keys:
            token, parts = new_token()
        self._keys[parts.key_id] = _StoredKey(user=user, secret_sha256=hash_secret(parts.secret))
        return IssuedKey(key_id=parts.key_id, user=user, token=token)

    async def verify(self, token: str) -> Principal | None:
        """Return the principal of a well-formed, known, unrevoked token with the right secret, else None."""
        self.verifications += 1
        parts = parse_token(token)
        if parts is None:
            return None
        stored = self._keys.get(parts.key_id)
        if stored is None or stored.revoked or not secret_matches(parts.secret, stored.secret_sha256):
            return None
        return Principal(user=stored.user, key_id=parts.key_id)

    async def is_active(self, key_id: str) -> bool:
        """True while the key exists and is not revoked."""
        stored = self._keys.get(key_id)
        return stored is not None and not stored.revoked

    async def revoked(self, key_ids: Collection[str]) -> set[str]:
        """Those of `key_ids` that are revoked."""
        self.revoked_queries += 1
        return {key_id for key_id in key_ids if (stored := self._keys.get(key_id)) and stored.revoked}

    async def session_secret(self) -> bytes:
        """The session token secret of this store (random, made with the store)."""
        return self._session_secret

    async def revoke(self, key_id: str) -> bool:
        """Revoke a key; True if it existed and was not revoked yet."""
        stored = self._keys.get(key_id)
        if stored is None or stored.revoked:
            return False
        stored.revoked = True
        return True
