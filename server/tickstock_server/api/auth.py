"""Bearer API-key authentication for every RPC except health checking and reflection."""

from __future__ import annotations

import contextvars
import time
from typing import Any

from tickstock_server.api.interceptors import (
    Context,
    StreamBehaviour,
    UnaryBehaviour,
    WrappingInterceptor,
    call_unary,
)
from tickstock_server.errors import UnauthenticatedError
from tickstock_server.ports import ApiKeyStore, Principal

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
    """Remembers verified tokens for a short time so that not every call queries the key store.

    A revoked key therefore keeps working for at most `ttl_s` seconds. Only successes are cached, so a
    failing token is checked again every time. The cache is bounded: when full it is cleared.
    """

    def __init__(self, store: ApiKeyStore, *, ttl_s: float = 30.0, max_entries: int = 10_000) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._entries: dict[str, tuple[Principal, float]] = {}

    async def verify(self, token: str) -> Principal | None:
        """The token's principal, or None when the store does not know it."""
        now = time.monotonic()
        cached = self._entries.get(token)
        if cached is not None and cached[1] > now:
            return cached[0]
        principal = await self._store.verify(token)
        if principal is None:
            self._entries.pop(token, None)
            return None
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[token] = (principal, now + self._ttl_s)
        return principal


class AuthInterceptor(WrappingInterceptor):
    """Requires `authorization: Bearer <api key>` and makes the caller available as `current_principal()`."""

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
            raise UnauthenticatedError("missing 'authorization: Bearer <api key>' metadata")
        scheme, _, token = str(values[0]).partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthenticatedError("the authorization metadata must read 'Bearer <api key>'")
        principal = await self._keys.verify(token.strip())
        if principal is None:
            raise UnauthenticatedError("invalid or revoked API key")
        return principal
