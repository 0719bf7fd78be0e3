"""Protocols between layers: what the application core needs from the outside world."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.bar_intervals import BarInterval
from tickstock_server.domain.filter_spec import FilterSpec
from tickstock_server.domain.tick import Tick
from tickstock_server.domain.universes import Watchlist

if TYPE_CHECKING:  # delivery imports these ports
    from tickstock_server.delivery.event_log import LogEntry
    from tickstock_server.domain.snapshot import SymbolSnapshot


class TickSource(Protocol):
    """A feed of ticks (synthetic, Massive WebSocket, replay)."""

    def ticks(self) -> AsyncIterator[list[Tick]]:
        """Yield ticks in batches, in event-time order per symbol, until the feed ends or is cancelled."""
        ...

    @property
    def rejected(self) -> Mapping[str, int]:
        """Frames and events skipped as malformed so far, by reason (empty for a feed that cannot fail)."""
        ...


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

    async def session_secret(self) -> bytes:
        """The secret that signs session tokens, the same for every replica; created on first use."""
        ...


class BarReader(Protocol):
    """Reads bars of one symbol, stored and not yet stored alike."""

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
        """Return up to `limit` bars, oldest first, and whether more follow.

        Bars start in [start_ns, end_ns) and, when `after_ns` is given (paging), after it.
        """
        ...

    async def newest_bar_ns(self, symbol: str) -> int | None:
        """Start of the symbol's newest one-minute bar held (stored or not), UTC epoch ns; None if none."""
        ...


class BarSink(Protocol):
    """Takes completed one-minute bars (cumulative revisions) for storage."""

    async def put(self, bars: Sequence[Bar]) -> None:
        """Accept bars; waits while the sink is full (backpressure), never drops."""
        ...


class UniverseResolver(Protocol):
    """Expands universe keys into symbols (PgUniverseStore)."""

    async def resolve(self, keys: Sequence[str]) -> frozenset[str]:
        """Symbols of the union of the universes; InvalidRequestError or NotFoundError for bad keys."""
        ...


class WatchlistReader(Protocol):
    """Reads a user's watchlists (PgWatchlistStore)."""

    async def get(self, user: str, watchlist_id: str) -> Watchlist:
        """One watchlist of `user`; NotFoundError for another user's or an unknown id."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredPreset:
    """A named filter of one user, as stored."""

    name: str
    spec: FilterSpec
    update_ns: int
    """Time of the last save, UTC epoch ns."""


class FilterPresetStore(Protocol):
    """Per-user named filter presets."""

    async def save(self, user: str, name: str, spec: FilterSpec) -> StoredPreset:
        """Create or replace; LimitExceededError beyond the per-user limit of presets."""
        ...

    async def list(self, user: str) -> Sequence[StoredPreset]:
        """The user's presets sorted by name."""
        ...

    async def get(self, user: str, name: str) -> StoredPreset:
        """One preset; NotFoundError when the user has none of that name."""
        ...

    async def delete(self, user: str, name: str) -> None:
        """Delete; NotFoundError when the user has none of that name."""
        ...


class EventHistory(Protocol):
    """The persisted part of the event log (RedisEventStore), read for replays older than memory."""

    async def read(self, after_seq: int, until_seq: int, limit: int) -> list[LogEntry]:
        """Up to `limit` entries with `after_seq < seq <= until_seq` in order; may have holes.

        Raises DependencyUnavailableError when the store is unreachable.
        """
        ...


class SnapshotSource(Protocol):
    """Current per-symbol detector state (DetectionEngine)."""

    def snapshot(self, symbols: Iterable[str] | None = None) -> list[SymbolSnapshot]:
        """State of `symbols` (all when None) that have seen a tick, sorted by symbol."""
        ...
