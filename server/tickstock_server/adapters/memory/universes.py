"""In-memory fakes of the universe and watchlist ports, behaving like the PostgreSQL stores."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tickstock_server.domain.universes import Watchlist
from tickstock_server.errors import NotFoundError


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
