"""API key tokens: format, generation and hashing. Stores keep only the hash of the secret part.

A token reads ``tsk_<key_id>_<secret>``: ``key_id`` is 12 lower-case hex characters and public (it names
the key in logs and lets the store find it without scanning); ``secret`` is 43 URL-safe characters from
256 random bits. Because the secret is high-entropy, one SHA-256 is a sound hash (as for GitHub tokens);
a slow password hash would only add latency to every call.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from tickstock_server.errors import FieldViolation, InvalidRequestError

_TOKEN = re.compile(r"tsk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_KEY_ID_PREFIX = re.compile(r"tsk_([0-9a-f]{12})")
_USER_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenParts:
    """A parsed token."""

    key_id: str
    secret: str


def new_token() -> tuple[str, TokenParts]:
    """Return a fresh random token and its parts."""
    parts = TokenParts(key_id=secrets.token_hex(6), secret=secrets.token_urlsafe(32))
    return f"tsk_{parts.key_id}_{parts.secret}", parts


def parse_token(token: str) -> TokenParts | None:
    """Split a token into its parts; None when it is not a well-formed TickStock token."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    return TokenParts(key_id=match.group(1), secret=match.group(2))


def claimed_key_id(token: str) -> str | None:
    """The key id a token names (its public part), whether or not the rest is valid; None for others.

    For logs: it identifies the key an attempt was made with, never revealing any of the secret.
    """
    match = _KEY_ID_PREFIX.match(token)
    return None if match is None else match.group(1)


def hash_secret(secret: str) -> str:
    """Hex SHA-256 of a token's secret part, as stored."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Compare a presented secret with a stored hash in constant time."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def check_user_name(user: str) -> None:
    """Reject a user name an API key cannot be created for.

    Raises:
        InvalidRequestError: `user` is not 1 to 64 letters, digits, ``.``, ``_``, ``@`` or ``-``.
    """
    if _USER_NAME.fullmatch(user) is None:
        raise InvalidRequestError(
            [FieldViolation("user", "must be 1 to 64 characters, each a letter, a digit or one of . _ @ -")]
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """An authenticated caller."""

    user: str
    """User name the API key was created for."""
    key_id: str
    """Public id of the API key used."""
    session_expires_ns: int | None = None
    """When the caller used a session token: its expiry, UTC epoch ns; None for an API key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedKey:
    """A freshly created API key. `secret` is shown once and never stored."""

    key_id: str
    user: str
    token: str
    """The full bearer token to hand to the user."""
