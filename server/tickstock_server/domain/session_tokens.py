"""Short-lived session tokens: what a browser holds instead of an API key.

A token reads ``tss_<claims>.<mac>``: ``claims`` is base64url JSON ``{"u": user, "k": key_id, "e":
expiry in epoch seconds}``, ``mac`` the base64url HMAC-SHA256 of ``tss_<claims>`` under the server's
session secret (shared by every replica). It proves who and until when; the key it came from must
still be active when it is used, so revoking a key ends its tokens too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

from tickstock_server.support.time_units import NS_PER_S

PREFIX = "tss_"
"""Starts every session token (API keys start with ``tsk_``)."""
MAX_TOKEN_CHARS = 512
"""Longer bearer values are not session tokens; they are refused before any decoding."""
SECRET_BYTES = 32
"""Length of the session secret."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionClaims:
    """What a valid session token says."""

    user: str
    key_id: str
    """The API key it was made from."""
    expires_ns: int
    """End of its validity, UTC epoch ns (whole seconds)."""


def is_session_token(token: str) -> bool:
    """True when `token` has the session token prefix (it may still be invalid)."""
    return token.startswith(PREFIX)


def issue_session_token(claims: SessionClaims, secret: bytes) -> str:
    """The signed token for `claims`."""
    body = {"u": claims.user, "k": claims.key_id, "e": claims.expires_ns // NS_PER_S}
    signed = PREFIX + _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{signed}.{_b64(_mac(signed, secret))}"


def read_session_token(token: str, secret: bytes, now_ns: int) -> SessionClaims | None:
    """The claims of a well-formed, authentic, unexpired token; None otherwise (never raises)."""
    if len(token) > MAX_TOKEN_CHARS or not token.startswith(PREFIX):
        return None
    signed, dot, mac = token.rpartition(".")
    if not dot:
        return None
    try:
        if not hmac.compare_digest(_unb64(mac), _mac(signed, secret)):
            return None
        body = json.loads(_unb64(signed.removeprefix(PREFIX)))
        user, key_id, expires_s = body["u"], body["k"], body["e"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    if not (isinstance(user, str) and isinstance(key_id, str) and type(expires_s) is int):
        return None
    if expires_s * NS_PER_S <= now_ns:
        return None
    return SessionClaims(user=user, key_id=key_id, expires_ns=expires_s * NS_PER_S)


def _mac(signed: str, secret: bytes) -> bytes:
    return hmac.new(secret, signed.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
