"""Protocols between layers: what the application core needs from the outside world."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.bar_intervals import BarInterval
from tickstock_server.domain.tick import Tick


class TickSource(Protocol):
    """A feed of ticks (synthetic, Massive WebSocket, replay)."""

    def ticks(self) -> AsyncIterator[list[Tick]]:
        """Yield ticks in batches, in event-time order per symbol, until the feed ends or is cancelled."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """An authenticated caller."""

    user: str
    """User name the API key was created for."""
    key_id: str
    """Public id of the API key used."""


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


class BarSink(Protocol):
    """Takes completed one-minute bars (cumulative revisions) for storage."""

    async def put(self, bars: Sequence[Bar]) -> None:
        """Accept bars; waits while the sink is full (backpressure), never drops."""
        ...
