"""In-memory fakes of the ports, with the same validation and behaviour as the real adapters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tickstock_server.domain.api_keys import (
    check_user_name,
    hash_secret,
    new_token,
    parse_token,
    secret_matches,
)
from tickstock_server.domain.bar import Bar
from tickstock_server.domain.bar_intervals import BarInterval, merge_into_buckets
from tickstock_server.ports import IssuedKey, Principal


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
        parts = parse_token(token)
        if parts is None:
            return None
        stored = self._keys.get(parts.key_id)
        if stored is None or stored.revoked or not secret_matches(parts.secret, stored.secret_sha256):
            return None
        return Principal(user=stored.user, key_id=parts.key_id)

    async def revoke(self, key_id: str) -> bool:
        """Revoke a key; True if it existed and was not revoked yet."""
        stored = self._keys.get(key_id)
        if stored is None or stored.revoked:
            return False
        stored.revoked = True
        return True


class MemoryBarReader:
    """`BarReader` over one-minute bars held in a list, bucketed like `PgBarReader`."""

    def __init__(self, minutes: Sequence[Bar] = ()) -> None:
        """Serve `minutes` (one-minute bars of any symbols; a later bar of a minute supersedes)."""
        self.minutes = list(minutes)

    async def get_bars(
        self,
        symbol: str,
        interval: BarInterval,
        start_ns: int,
        end_ns: int,
        *,
        limit: int,
        after_ns: int | None = None,
    ) -> tuple[list[Bar], bool]:
        """Up to `limit` bars in [start_ns, end_ns) after `after_ns`, oldest first; whether more follow."""
        by_minute = {bar.start_ns: bar for bar in self.minutes if bar.symbol == symbol}
        in_range = [by_minute[key] for key in sorted(by_minute) if start_ns <= key < end_ns]
        bars = [
            bar
            for bar in merge_into_buckets(in_range, interval)
            if after_ns is None or bar.start_ns > after_ns
        ]
        return bars[:limit], len(bars) > limit
