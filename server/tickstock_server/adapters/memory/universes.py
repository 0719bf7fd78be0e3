"""In-memory fakes of the universe and watchlist ports, behaving like the PostgreSQL stores."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence

from tickstock_server.domain.universes import (
    SymbolInfo,
    SymbolPage,
    SymbolSearch,
    Universe,
    UniverseKind,
    UniverseSummary,
    Watchlist,
    parse_universe_keys,
    watchlist_not_found,
)
from tickstock_server.errors import AlreadyExistsError, NotFoundError


class MemoryUniverses:
    """`UniverseStore` over symbols and universes held in dicts.

    It is also a `UniverseResolver` that expands keys as `UniverseCatalog.resolve` does, so tests can
    hand it straight to servicers that only resolve universes.
    """

    def __init__(
        self,
        universes: Mapping[str, Iterable[str]] | Iterable[Universe] = (),
        *,
        symbols: Iterable[SymbolInfo] = (),
    ) -> None:
        """Hold `universes` (a mapping of name to members makes index universes without description)."""
        if isinstance(universes, Mapping):
            universes = [
                Universe(name=name, description="", kind=UniverseKind.INDEX, symbols=tuple(members))
                for name, members in universes.items()
            ]
        self._universes = {
            universe.name: Universe(
                name=universe.name,
                description=universe.description,
                kind=universe.kind,
                symbols=tuple(sorted(set(universe.symbols))),
            )
            for universe in universes
        }
        self._symbols = {info.symbol: info for info in sorted(symbols, key=lambda info: info.symbol)}

    async def list_symbols(self, search: SymbolSearch, *, after: str | None, limit: int) -> SymbolPage:
        """Up to `limit` matching symbols sorted by ticker, those after `after`."""
        matching = [
            info
            for ticker, info in sorted(self._symbols.items())
            if (after is None or ticker > after) and _matches(info, search)
        ]
        return SymbolPage(symbols=tuple(matching[:limit]), has_more=len(matching) > limit)

    async def get_symbol(self, symbol: str) -> SymbolInfo:
        """One symbol; NotFoundError when unknown."""
        info = self._symbols.get(symbol)
        if info is None:
            raise NotFoundError(f"unknown symbol {symbol!r}")
        return info

    async def known_symbols(self, symbols: Sequence[str]) -> frozenset[str]:
        """Those of `symbols` that exist."""
        return frozenset(symbols) & self._symbols.keys()

    async def list_universes(self) -> tuple[UniverseSummary, ...]:
        """Every universe sorted by name, with member counts."""
        return tuple(
            UniverseSummary(
                name=universe.name,
                description=universe.description,
                kind=universe.kind,
                member_count=universe.member_count,
            )
            for _, universe in sorted(self._universes.items())
        )

    async def get_universe(self, name: str) -> Universe:
        """One universe with its members; NotFoundError when there is none of that name."""
        self._check_exist((name,))
        return self._universes[name]

    async def union_members(self, names: Sequence[str]) -> tuple[str, ...]:
        """The members of the universes together, sorted and distinct; NotFoundError naming the missing."""
        self._check_exist(names)
        return tuple(sorted(set().union(*(self._universes[name].symbols for name in names))))

    async def resolve(self, keys: Sequence[str]) -> frozenset[str]:
        """Symbols of the union of the universes the keys name; InvalidRequestError, NotFoundError."""
        names = parse_universe_keys(keys)
        return frozenset(await self.union_members(names)) if names else frozenset()

    def _check_exist(self, names: Sequence[str]) -> None:
        missing = [name for name in dict.fromkeys(names) if name not in self._universes]
        if missing:
            raise NotFoundError("unknown universe " + ", ".join(repr(name) for name in missing))


def _matches(info: SymbolInfo, search: SymbolSearch) -> bool:
    query = search.query
    return (
        (not query or info.symbol.startswith(query.upper()) or query.lower() in info.name.lower())
        and (not search.market or info.market.lower() == search.market.lower())
        and (not search.symbol_type or info.type.upper() == search.symbol_type.upper())
    )


class MemoryWatchlists:
    """`WatchlistStore` in a dict; other users' lists are invisible.

    Ids it assigns are UUIDs, like PostgreSQL's; watchlists given to the constructor keep theirs, and
    any text may be an id (`is_watchlist_id` is always true).
    """

    def __init__(
        self, watchlists: Iterable[Watchlist] = (), *, clock_ns: Callable[[], int] = time.time_ns
    ) -> None:
        """Hold `watchlists`; `clock_ns` (UTC epoch ns) stamps creates and updates."""
        self._lists = {(w.user, w.watchlist_id): w for w in watchlists}
        self._clock_ns = clock_ns

    def is_watchlist_id(self, watchlist_id: str) -> bool:
        """Always true: the fake names watchlists by any text."""
        return True

    async def create(
        self, user: str, name: str, symbols: Sequence[str], *, max_per_user: int
    ) -> Watchlist | None:
        """A new watchlist, or None when `user` has `max_per_user`; AlreadyExistsError for a taken name."""
        owned = [w for (owner, _), w in self._lists.items() if owner == user]
        if len(owned) >= max_per_user:
            return None
        if any(w.name == name for w in owned):
            raise AlreadyExistsError(f"a watchlist named {name!r} already exists")
        now_ns = self._clock_ns()
        created = Watchlist(
            watchlist_id=str(uuid.uuid4()),
            user=user,
            name=name,
            symbols=tuple(symbols),
            create_ns=now_ns,
            update_ns=now_ns,
        )
        self._lists[user, created.watchlist_id] = created
        return created

    async def list(self, user: str) -> tuple[Watchlist, ...]:
        """The watchlists of `user`, sorted by name (code points, as PostgreSQL's "C" collation)."""
        return tuple(sorted((w for (owner, _), w in self._lists.items() if owner == user), key=_name))

    async def get(self, user: str, watchlist_id: str) -> Watchlist:
        """One watchlist of `user`; NotFoundError otherwise."""
        found = self._lists.get((user, watchlist_id))
        if found is None:
            raise watchlist_not_found(watchlist_id)
        return found

    async def update(
        self,
        user: str,
        watchlist_id: str,
        *,
        name: str | None = None,
        symbols: Sequence[str] | None = None,
    ) -> Watchlist:
        """Replace the name and/or the symbols; NotFoundError, AlreadyExistsError for a taken name."""
        current = await self.get(user, watchlist_id)
        if name is not None and any(
            w.name == name and w.watchlist_id != watchlist_id
            for (owner, _), w in self._lists.items()
            if owner == user
        ):
            raise AlreadyExistsError(f"a watchlist named {name!r} already exists")
        updated = Watchlist(
            watchlist_id=watchlist_id,
            user=user,
            name=current.name if name is None else name,
            symbols=current.symbols if symbols is None else tuple(symbols),
            create_ns=current.create_ns,
            update_ns=self._clock_ns(),
        )
        self._lists[user, watchlist_id] = updated
        return updated

    async def delete(self, user: str, watchlist_id: str) -> None:
        """Delete one watchlist of `user`; NotFoundError otherwise."""
        if self._lists.pop((user, watchlist_id), None) is None:
            raise watchlist_not_found(watchlist_id)


def _name(watchlist: Watchlist) -> str:
    return watchlist.name
