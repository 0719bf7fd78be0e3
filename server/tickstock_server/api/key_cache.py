"""`KeyCache`: verified bearer tokens remembered for a while, and failed ones for a few seconds."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

from tickstock_server.domain.api_keys import Principal
from tickstock_server.domain.session_tokens import is_session_token, read_session_token
from tickstock_server.ports.auth import ApiKeyStore


class KeyCache:
    """Verifies bearer tokens (API keys and session tokens), remembering the answers for a short time.

    Successes are kept for `ttl_s` seconds. A revoked key is not trusted for that long: the
    `RevocationWatch` of the server asks the store every 2 s about the keys cached here and `evict`s the
    revoked ones, so a revoked key, and every session token made from it, is refused within 5 s on every
    replica. Failures are kept for `miss_ttl_s` seconds, so the same bad token does not cost a database
    lookup on every call; keep it short, a key created (or a token presented early) after a miss works
    once it passes. Both tables are bounded: the successes are cleared when full, the oldest failure is
    forgotten to make room for a new one. A session token is checked here (signature, expiry on
    `clock_ns`) and its key's status comes from the store, cached like keys.
    """

    def __init__(
        self,
        store: ApiKeyStore,
        *,
        ttl_s: float = 30.0,
        miss_ttl_s: float = 5.0,
        max_entries: int = 10_000,
        clock_ns: Callable[[], int] = time.time_ns,
        monotonic_s: Callable[[], float] = time.monotonic,
    ) -> None:
        """Cache `store`'s answers; `monotonic_s` measures the TTLs, `clock_ns` session expiries."""
        self._store = store
        self._ttl_s = ttl_s
        self._miss_ttl_s = miss_ttl_s
        self._max_entries = max_entries
        self._clock_ns = clock_ns
        self._monotonic_s = monotonic_s
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._misses: dict[str, float] = {}
        self._secret: bytes | None = None

    def cached(self, token: str) -> Principal | None:
        """The token's principal if it was verified recently (and, for a session token, is unexpired)."""
        cached = self._entries.get(token)
        if cached is None or cached[1] <= self._monotonic_s():
            return None
        expires_ns = cached[0].session_expires_ns
        if expires_ns is not None and expires_ns <= self._clock_ns():
            return None
        return cached[0]

    async def verify(self, token: str) -> Principal | None:
        """The token's principal, or None when it is unknown, revoked, forged or expired.

        Raises:
            DependencyUnavailableError: The store is unreachable (nothing is cached then).
        """
        principal = self.cached(token)
        if principal is not None:
            return principal
        now_s = self._monotonic_s()
        missed_until_s = self._misses.get(token)
        if missed_until_s is not None and missed_until_s > now_s:
            return None
        if is_session_token(token):
            principal = await self._verify_session(token)
        else:
            principal = await self._store.verify(token)
        if principal is None:
            self._entries.pop(token, None)
            self._remember_miss(token, now_s)
            return None
        self._misses.pop(token, None)
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[token] = (principal, now_s + self._ttl_s)
        return principal

    def cached_key_ids(self) -> set[str]:
        """The key ids of the cached successes (of API keys and of session tokens made from them)."""
        return {principal.key_id for principal, _ in self._entries.values()}

    def evict(self, key_ids: Collection[str]) -> None:
        """Forget the successes of these keys and of their session tokens: the next call asks the store."""
        gone = set(key_ids)
        for token in [token for token, (principal, _) in self._entries.items() if principal.key_id in gone]:
            del self._entries[token]

    async def session_secret(self) -> bytes:
        """The secret that signs session tokens (read once from the store)."""
        if self._secret is None:
            self._secret = await self._store.session_secret()
        return self._secret

    def _remember_miss(self, token: str, now_s: float) -> None:
        self._misses.pop(token, None)
        if len(self._misses) >= self._max_entries:
            # Dicts keep insertion order: the first entry is the oldest miss.
            del self._misses[next(iter(self._misses))]
        self._misses[token] = now_s + self._miss_ttl_s

    async def _verify_session(self, token: str) -> Principal | None:
        claims = read_session_token(token, await self.session_secret(), self._clock_ns())
        if claims is None or not await self._store.is_active(claims.key_id):
            return None
        return Principal(user=claims.user, key_id=claims.key_id, session_expires_ns=claims.expires_ns)
