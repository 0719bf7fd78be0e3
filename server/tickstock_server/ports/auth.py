"""Ports for API keys: creation, verification, revocation state."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from tickstock_server.domain.api_keys import IssuedKey, Principal


class ApiKeyStore(Protocol):
    """Stores API keys hashed; verifies bearer tokens."""

    async def create(self, user: str) -> IssuedKey:
        """Create a key for `user` and return it; only its hash is stored."""
        ...

    async def verify(self, token: str) -> Principal | None:
        """Return the principal of a valid, unrevoked token, or None."""
        ...

    async def is_active(self, key_id: str) -> bool:
        """True while the key exists and is not revoked."""
        ...

    async def revoked(self, key_ids: Collection[str]) -> set[str]:
        """Those of `key_ids` that are revoked (unknown ids are not), in one round trip."""
        ...

    async def session_secret(self) -> bytes:
        """The secret that signs session tokens, the same for every replica; created on first use."""
        ...
