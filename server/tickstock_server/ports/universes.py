"""Ports for symbols, universes and watchlists: the stores' reads and writes, and universe resolution."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tickstock_server.domain.universes import (
    SymbolInfo,
    SymbolPage,
    SymbolSearch,
    Universe,
    UniverseSummary,
    Watchlist,
)


class SymbolReader(Protocol):
    """Reads symbol reference data (PgUniverseStore). Takes checked input: it validates nothing."""

    async def list_symbols(self, search: SymbolSearch, *, after: str | None, limit: int) -> SymbolPage:
        """Up to `limit` (>= 1) matching symbols with tickers after `after` (None: from the first)."""
        ...

    async def get_symbol(self, symbol: str) -> SymbolInfo:
        """One symbol's reference data; NotFoundError for an unknown ticker."""
        ...

    async def known_symbols(self, symbols: Sequence[str]) -> frozenset[str]:
        """Those of `symbols` that exist."""
        ...


class UniverseReader(Protocol):
    """Reads the stored universes (PgUniverseStore). Takes checked names: it validates nothing."""

    async def list_universes(self) -> tuple[UniverseSummary, ...]:
        """Every stored universe sorted by name, with member counts but not members."""
        ...

    async def get_universe(self, name: str) -> Universe:
        """One stored universe with its members, sorted; NotFoundError when there is none of that name."""
        ...

    async def union_members(self, names: Sequence[str]) -> tuple[str, ...]:
        """The members of the universes together, sorted and distinct, read at one instant.

        NotFoundError names every universe of `names` that does not exist.
        """
        ...


class UniverseStore(SymbolReader, UniverseReader, Protocol):
    """Symbols and universes together, as one database holds them."""


class UniverseResolver(Protocol):
    """Expands universe keys into symbols (UniverseCatalog)."""

    async def resolve(self, keys: Sequence[str]) -> frozenset[str]:
        """Symbols of the union of the universes; InvalidRequestError or NotFoundError for bad keys."""
        ...


class WatchlistReader(Protocol):
    """Reads a user's watchlists (PgWatchlistStore)."""

    async def get(self, user: str, watchlist_id: str) -> Watchlist:
        """One watchlist of `user`; NotFoundError for another user's or an unknown id."""
        ...


class WatchlistStore(WatchlistReader, Protocol):
    """Each user's watchlists (PgWatchlistStore). Takes checked input; every call is scoped to `user`.

    Another user's watchlist behaves exactly like one that does not exist (NotFoundError), and so does
    an id that is not of the store's form.
    """

    def is_watchlist_id(self, watchlist_id: str) -> bool:
        """Whether `watchlist_id` has the form of the ids this store assigns."""
        ...

    async def create(
        self, user: str, name: str, symbols: Sequence[str], *, max_per_user: int
    ) -> Watchlist | None:
        """Store a new watchlist, unless `user` already has `max_per_user`: then None.

        The count and the insert are one step, so concurrent creates never exceed `max_per_user`.
        AlreadyExistsError when `user` has a watchlist of that name.
        """
        ...

    async def list(self, user: str) -> tuple[Watchlist, ...]:
        """The watchlists of `user`, sorted by name (bytewise)."""
        ...

    async def update(
        self,
        user: str,
        watchlist_id: str,
        *,
        name: str | None = None,
        symbols: Sequence[str] | None = None,
    ) -> Watchlist:
        """Replace the name and/or the symbols (None keeps a field); NotFoundError, AlreadyExistsError."""
        ...

    async def delete(self, user: str, watchlist_id: str) -> None:
        """Delete one watchlist of `user`; NotFoundError when `user` has none of that id."""
        ...
