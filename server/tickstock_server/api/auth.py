"""Bearer authentication (API keys and session tokens) for every RPC except health checks and reflection.

Streams are authenticated when they start and then watched: a `RevocationWatch` ends those of a key
revoked meanwhile. Failures are counted, logged and limited per peer by `AuthFailures`.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from tickstock_server.api.auth_failures import AuthFailures, peer_address
from tickstock_server.api.interceptors import (
    Context,
    StreamBehaviour,
    UnaryBehaviour,
    WrappingInterceptor,
    call_unary,
)
from tickstock_server.api.key_cache import KeyCache
from tickstock_server.api.revocation import RevocationWatch
from tickstock_server.domain.api_keys import Principal
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


def create_auth_interceptor(
    store: ApiKeyStore, *, clock_ns: Callable[[], int] = time.time_ns
) -> AuthInterceptor:
    """The interceptor over `store` with the default cache, revocation watch and failure limits."""
    keys = KeyCache(store, clock_ns=clock_ns)
    return AuthInterceptor(keys, RevocationWatch(store, keys), AuthFailures())


class AuthInterceptor(WrappingInterceptor):
    """Requires `authorization: Bearer <api key or session token>`; the caller is `current_principal()`."""

    def __init__(self, keys: KeyCache, revocations: RevocationWatch, failures: AuthFailures) -> None:
        """Verify with `keys`, register streams with `revocations`, report failures to `failures`."""
        self.keys = keys
        self.revocations = revocations
        self.failures = failures

    def wrap_unary(self, behaviour: UnaryBehaviour, method: str) -> UnaryBehaviour:
        """Authenticate before a unary call, unless the method is open."""
        if method.startswith(OPEN_SERVICES):
            return behaviour

        async def wrapped(request: Any, context: Context) -> Any:
            _principal.set(await self._authenticate(context))
            return await call_unary(behaviour, request, context)

        return wrapped

    def wrap_stream(self, behaviour: StreamBehaviour, method: str) -> StreamBehaviour:
        """Authenticate before a streaming call, unless the method is open, and watch for revocation."""
        if method.startswith(OPEN_SERVICES):
            return behaviour

        async def wrapped(request: Any, context: Context) -> Any:
            async with self._watched(context):
                async for response in behaviour(request, context):
                    yield response

        return wrapped

    @contextlib.asynccontextmanager
    async def _watched(self, context: Context) -> AsyncIterator[None]:
        """Authenticate a stream, and keep it registered for revocation while the block runs."""
        principal = await self._authenticate(context)
        _principal.set(principal)
        with self.revocations.watching(principal.key_id, context):
            yield

    async def _authenticate(self, context: Context) -> Principal:
        values = [v for k, v in context.invocation_metadata() or () if k == "authorization"]
        scheme, _, token = str(values[0]).partition(" ") if values else ("", "", "")
        token = token.strip()
        well_formed = scheme.lower() == "bearer" and bool(token)
        if well_formed:
            principal = self.keys.cached(token)
            if principal is not None:
                return principal
        peer = peer_address(context.peer())
        self.failures.check(peer)
        if not values:
            self.failures.record(peer, None, "missing")
            raise UnauthenticatedError("missing 'authorization: Bearer <api key or session token>' metadata")
        if not well_formed:
            self.failures.record(peer, None, "malformed")
            raise UnauthenticatedError(
                "the authorization metadata must read 'Bearer <api key or session token>'"
            )
        principal = await self.keys.verify(token)
        if principal is None:
            self.failures.record(peer, token, "rejected")
            raise UnauthenticatedError("invalid, expired or revoked API key or session token")
        return principal
