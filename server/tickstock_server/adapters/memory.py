"""In-memory fakes of the ports, with the same validation and behaviour as the real adapters."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from tickstock_server.delivery.event_log import LogEntry
from tickstock_server.domain.api_keys import (
    check_user_name,
    hash_secret,
    new_token,
    parse_token,
    secret_matches,
)
from tickstock_server.domain.bar import Bar
from tickstock_server.domain.bar_intervals import BarInterval, merge_into_buckets
from tickstock_server.domain.filter_spec import FilterSpec
from tickstock_server.domain.session_tokens import SECRET_BYTES
from tickstock_server.domain.universes import Watchlist
from tickstock_server.errors import LimitExceededError, NotFoundError
from tickstock_server.ports import IssuedKey, Principal, StoredPreset


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

    async def is_active(self, key_id: str) -> bool:
        """True while the key exists and is not revoked."""
        stored = self._keys.get(key_id)
        return stored is not None and not stored.revoked

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

    async def newest_bar_ns(self, symbol: str) -> int | None:
        """Start of the symbol's newest minute; None when it has none."""
        return max((bar.start_ns for bar in self.minutes if bar.symbol == symbol), default=None)


class MemoryUniverses:
    """`UniverseResolver` over a dict of universe name -> symbols; "a:b" keys are unions."""

    def __init__(self, universes: Mapping[str, Iterable[str]]) -> None:
        self._universes = {name: frozenset(symbols) for name, symbols in universes.items()}

    async def resolve(self, keys: Sequence[str]) -> frozenset[str]:
        """Symbols of the union; NotFoundError naming the first unknown universe."""
        symbols: set[str] = set()
        for key in keys:
            for name in key.split(":"):
                if name not in self._universes:
                    raise NotFoundError(f"no universe named {name!r}")
                symbols |= self._universes[name]
        return frozenset(symbols)


class MemoryWatchlists:
    """`WatchlistReader` over a list of watchlists; other users' lists are invisible."""

    def __init__(self, watchlists: Iterable[Watchlist] = ()) -> None:
        self._lists = {(w.user, w.watchlist_id): w for w in watchlists}

    async def get(self, user: str, watchlist_id: str) -> Watchlist:
        """One watchlist of `user`; NotFoundError otherwise."""
        found = self._lists.get((user, watchlist_id))
        if found is None:
            raise NotFoundError(f"no watchlist {watchlist_id!r}")
        return found


class MemoryFilterPresetStore:
    """`FilterPresetStore` in a dict, with the same per-user limit as `PgFilterPresetStore`."""

    def __init__(self, *, max_per_user: int = 50, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self._presets: dict[tuple[str, str], StoredPreset] = {}
        self._max_per_user = max_per_user
        self._clock_ns = clock_ns

    async def save(self, user: str, name: str, spec: FilterSpec) -> StoredPreset:
        """Create or replace; LimitExceededError for a new one beyond the limit."""
        others = sum(1 for owner, other in self._presets if owner == user and other != name)
        if others >= self._max_per_user:
            raise LimitExceededError(f"a user may keep at most {self._max_per_user} filter presets")
        preset = StoredPreset(name=name, spec=spec, update_ns=self._clock_ns())
        self._presets[user, name] = preset
        return preset

    async def list(self, user: str) -> tuple[StoredPreset, ...]:
        """The user's presets sorted by name."""
        return tuple(p for (owner, _), p in sorted(self._presets.items()) if owner == user)

    async def get(self, user: str, name: str) -> StoredPreset:
        """One preset; NotFoundError when absent."""
        if (user, name) not in self._presets:
            raise NotFoundError(f"no filter preset named {name!r}")
        return self._presets[user, name]

    async def delete(self, user: str, name: str) -> None:
        """Delete; NotFoundError when absent."""
        if self._presets.pop((user, name), None) is None:
            raise NotFoundError(f"no filter preset named {name!r}")


class MemoryEventHistory:
    """`EventHistory` holding the entries it is given (with any holes), like a persisted event log."""

    def __init__(self, entries: Iterable[LogEntry] = ()) -> None:
        self._entries = {entry.seq: entry for entry in entries}

    def add(self, entries: Iterable[LogEntry]) -> None:
        """Persist entries."""
        self._entries.update((entry.seq, entry) for entry in entries)

    async def read(self, after_seq: int, until_seq: int, limit: int) -> list[LogEntry]:
        """Stored entries with after_seq < seq <= until_seq, in order, at most `limit`."""
        seqs = sorted(seq for seq in self._entries if after_seq < seq <= until_seq)[:limit]
        return [self._entries[seq] for seq in seqs]
