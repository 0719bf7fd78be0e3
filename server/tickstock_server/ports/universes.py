"""Ports for universes and watchlists, as filters and streams use them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tickstock_server.domain.universes import Watchlist


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
