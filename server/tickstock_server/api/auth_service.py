"""AuthService: API keys (or live session tokens) exchanged for short-lived signed session tokens."""

from __future__ import annotations

import time
from collections.abc import Callable

from tickstock.v1 import auth_service_pb2
from tickstock_server.api.auth import current_principal
from tickstock_server.api.interceptors import Context
from tickstock_server.api.key_cache import KeyCache
from tickstock_server.api.mappers._common import timestamp_from_ns
from tickstock_server.api.mappers.auth_service import ttl_s_from_proto
from tickstock_server.domain.session_tokens import SessionClaims, issue_session_token
from tickstock_server.support.time_units import NS_PER_S


class AuthServiceServicer:
    """Serves `tickstock.v1.AuthService`."""

    def __init__(self, *, keys: KeyCache, clock_ns: Callable[[], int] = time.time_ns) -> None:
        """Sign tokens with the secret `keys` verifies them with; expiries count from `clock_ns`."""
        self._keys = keys
        self._clock_ns = clock_ns

    async def CreateSessionToken(  # noqa: N802 - gRPC method name
        self, request: auth_service_pb2.CreateSessionTokenRequest, context: Context
    ) -> auth_service_pb2.CreateSessionTokenResponse:
        """A token for the caller's user and key: sign-in with an API key, renewal with a live token."""
        ttl_s = ttl_s_from_proto(request)
        principal = current_principal()
        expires_ns = (self._clock_ns() // NS_PER_S + ttl_s) * NS_PER_S
        claims = SessionClaims(user=principal.user, key_id=principal.key_id, expires_ns=expires_ns)
        token = issue_session_token(claims, await self._keys.session_secret())
        return auth_service_pb2.CreateSessionTokenResponse(
            token=token, expire_time=timestamp_from_ns(expires_ns), user=principal.user
        )
