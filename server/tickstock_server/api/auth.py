"""Bearer authentication (API keys and session tokens) for every RPC except health checks and reflection."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from typing import Any

from tickstock_server.api.interceptors import (
    Context,
    StreamBehaviour,
    UnaryBehaviour,
    WrappingInterceptor,
    call_unary,
)
from tickstock_server.domain.api_keys import Principal
from tickstock_server.domain.session_tokens import is_session_token, read_session_token
from tickstock_server.errors import UnauthenticatedError
from tickstock_server.ports.auth import ApiKeyStore

OPEN_SERVICES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
)
"""Method prefixes callable without a key: probes and tooling must work before anyone has one."""

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal")


def current_principal() -> Principal:
    """The authenticated caller of the RPC being served; only valid inside an authenticated call."""
    return _principal.get()


class KeyCache:
    """Verifies bearer tokens (API keys and session tokens), remembering successes for a short time.

    A revoked key, and every session token made from it, therefore keeps working for at most `ttl_s`
    seconds. Only successes are cached, so a failing token is checked again every time. The cache is
    bounded: when full it is cleared. A session token is checked here (signature, expiry on `clock_ns`)
    and its key's status comes from the store, cached like keys.
    """

    def __init__(
        self,
        store: ApiKeyStore,
        *,
        ttl_s: float = 30.0,
        max_entries: int = 10_000,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock_ns = clock_ns
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._secret: bytes | None = None

    async def verify(self, token: str) -> Principal | None:
        """The token's principal, or None when it is unknown, revoked, forged or expired."""
        now = time.monotonic()
        cached = self._entries.get(token)
        if cached is not None and cached[1] > now:
            expires_ns = cached[0].session_expires_ns
            if expires_ns is None or expires_ns > self._clock_ns():
                return cached[0]
        if is_session_token(token):
            principal = await self._verify_session(token)
        else:
            principal = await self._store.verify(token)
        if principal is None:
            self._entries.pop(token, None)
            return None
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[token] = (principal, now + self._ttl_s)
        return principal

    async def session_secret(self) -> bytes:
        """The secret that signs session tokens (read once from the store)."""
        if self._secret is None:
            self._secret = await self._store.session_secret()
        return self._secret

    async def _verify_session(self, token: str) -> Principal | None:
        claims = read_session_token(token, await self.session_secret(), self._clock_ns())
        if claims is None or not await self._store.is_active(claims.key_id):
            return None
        return Principal(user=claims.user, key_id=claims.key_id, session_expires_ns=claims.expires_ns)


class AuthInterceptor(WrappingInterceptor):
    """Requires `authorization: Bearer <api key or session token>`; the caller is `current_principal()`."""

    def __init__(self, keys: KeyCache) -> None:
        self._keys = keys

    def wrap_unary(self, behaviour: UnaryBehaviour, method: str) -> UnaryBehaviour:
        """Authenticate before a unary call, unless the method is open."""
        if method.startswith(OPEN_SERVICES):
            return behaviour

        async def wrapped(request: Any, context: Context) -> Any:
            _principal.set(await self._authenticate(context))
            return await call_unary(behaviour, request, context)

        return wrapped

    def wrap_stream(self, behaviour: StreamBehaviour, method: str) -> StreamBehaviour:
        """Authenticate before a streaming call, unless the method is open."""
        if method.startswith(OPEN_SERVICES):
            return behaviour

        async def wrapped(request: Any, context: Context) -> Any:
            _principal.set(await self._authenticate(context))
            async for response in behaviour(request, context):
                yield response

        return wrapped

    async def _authenticate(self, context: Context) -> Principal:
        values = [v for k, v in context.invocation_metadata() or () if k == "authorization"]
        if not values:
            raise UnauthenticatedError("missing 'authorization: Bearer <api key or session token>' metadata")
        scheme, _, token = str(values[0]).partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthenticatedError(
                "the authorization metadata must read 'Bearer <api key or session token>'"
            )
        principal = await self._keys.verify(token.strip())
        if principal is None:
            raise UnauthenticatedError("invalid, expired or revoked API key or session token")
        return principal
