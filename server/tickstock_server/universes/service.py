"""The universe catalog and the watchlist rules: what the stores hold, checked and bounded."""

from __future__ import annotations

from collections.abc import Sequence

from tickstock_server.domain.symbols import is_symbol
from tickstock_server.domain.universes import (
    SymbolInfo,
    SymbolPage,
    SymbolSearch,
    Universe,
    UniverseKind,
    UniverseSummary,
    Watchlist,
    WatchlistLimits,
    parse_universe_key,
    parse_universe_keys,
    union_key,
    watchlist_name_violations,
    watchlist_not_found,
    watchlist_symbol_violations,
)
from tickstock_server.errors import FieldViolation, InvalidRequestError, LimitExceededError
from tickstock_server.ports.universes import SymbolReader, UniverseStore, WatchlistStore


class UniverseCatalog:
    """Symbol search and universes, with universe keys (``a:b`` is a union) checked and expanded.

    It is the `UniverseResolver` of the event filters, pattern filters, alerts and the loader.
    """

    def __init__(self, store: UniverseStore) -> None:
        """Read from `store`."""
        self._store = store

    async def list_symbols(self, search: SymbolSearch, *, after: str | None, limit: int) -> SymbolPage:
        """Up to `limit` (>= 1) matching symbols sorted by ticker, from the first after `after`."""
        return await self._store.list_symbols(search, after=after, limit=limit)

    async def get_symbol(self, symbol: str) -> SymbolInfo:
        """One symbol's reference data.

        Raises:
            InvalidRequestError: `symbol` is not a ticker (field ``symbol``).
            NotFoundError: No such symbol.
        """
        if not is_symbol(symbol):
            raise InvalidRequestError([FieldViolation("symbol", "is not a ticker")])
        return await self._store.get_symbol(symbol)

    async def list_universes(self) -> tuple[UniverseSummary, ...]:
        """Every stored universe sorted by name, with member counts but not members."""
        return await self._store.list_universes()

    async def get_universe(self, key: str) -> Universe:
        """A universe with its members; ``a:b`` is the union of ``a`` and ``b``, ``a:a`` is ``a``.

        Raises:
            InvalidRequestError: The key is malformed (field ``name``).
            NotFoundError: A named universe does not exist.
        """
        names = parse_universe_key(key)
        if len(names) == 1:
            return await self._store.get_universe(names[0])
        return Universe(
            name=union_key(names),
            description="Union of " + ", ".join(names),
            kind=UniverseKind.UNION,
            symbols=await self._store.union_members(names),
        )

    async def resolve(self, keys: Sequence[str]) -> frozenset[str]:
        """The symbols of every universe the keys name (each may itself be ``a:b``).

        Raises:
            InvalidRequestError: With every malformed key (fields ``universes[i]``).
            NotFoundError: A named universe does not exist.
        """
        names = parse_universe_keys(keys)
        if not names:
            return frozenset()
        return frozenset(await self._store.union_members(names))


class Watchlists:
    """Each user's watchlists: names, symbols and per-user limits checked before the store writes."""

    def __init__(
        self, store: WatchlistStore, *, symbols: SymbolReader, limits: WatchlistLimits | None = None
    ) -> None:
        """Keep watchlists in `store`, checking tickers against `symbols`, within `limits` (defaults)."""
        self._store = store
        self._symbols = symbols
        self._limits = limits or WatchlistLimits()

    async def create(self, user: str, name: str, symbols: Sequence[str]) -> Watchlist:
        """Create a watchlist of `user`.

        Args:
            user: Owner.
            name: Name, unique among the owner's watchlists.
            symbols: Known tickers in the user's order, each at most once.

        Raises:
            LimitExceededError: Too many symbols, or the user already has the most watchlists allowed.
            InvalidRequestError: A bad name, or malformed, repeated or unknown tickers (fields
                ``watchlist.name``, ``watchlist.symbols[i]``).
            AlreadyExistsError: The user has a watchlist of that name.
        """
        self._check_symbol_count(symbols)
        await self._check_fields(name, symbols)
        most = self._limits.max_watchlists_per_user
        created = await self._store.create(user, name, symbols, max_per_user=most)
        if created is None:
            raise LimitExceededError(f"a user may have at most {most} watchlists")
        return created

    async def list(self, user: str) -> tuple[Watchlist, ...]:
        """The watchlists of `user`, sorted by name."""
        return await self._store.list(user)

    async def get(self, user: str, watchlist_id: str) -> Watchlist:
        """One watchlist of `user`; NotFoundError for another user's or an unknown id."""
        return await self._store.get(user, watchlist_id)

    async def update(
        self,
        user: str,
        watchlist_id: str,
        *,
        name: str | None = None,
        symbols: Sequence[str] | None = None,
    ) -> Watchlist:
        """Change the name and/or the symbols of one watchlist of `user`; None leaves a field as it is.

        Raises:
            NotFoundError: No such watchlist of `user` (including another user's, and malformed ids).
            LimitExceededError: Too many symbols.
            InvalidRequestError: A bad name, or malformed, repeated or unknown tickers.
            AlreadyExistsError: The user has another watchlist of the new name.
        """
        # An id the store could never have assigned is NOT_FOUND before the changes are looked at.
        if not self._store.is_watchlist_id(watchlist_id):
            raise watchlist_not_found(watchlist_id)
        if symbols is not None:
            self._check_symbol_count(symbols)
        await self._check_fields(name, symbols)
        return await self._store.update(user, watchlist_id, name=name, symbols=symbols)

    async def delete(self, user: str, watchlist_id: str) -> None:
        """Delete one watchlist of `user`; NotFoundError for another user's or an unknown id."""
        await self._store.delete(user, watchlist_id)

    def _check_symbol_count(self, symbols: Sequence[str]) -> None:
        # Checked before anything else, so that an oversized request costs no per-symbol work.
        most = self._limits.max_symbols_per_watchlist
        if len(symbols) > most:
            raise LimitExceededError(f"a watchlist may hold at most {most} symbols, not {len(symbols)}")

    async def _check_fields(self, name: str | None, symbols: Sequence[str] | None) -> None:
        """Raise `InvalidRequestError` naming the bad name and the malformed, repeated or unknown tickers."""
        violations: list[FieldViolation] = []
        if name is not None:
            violations.extend(watchlist_name_violations(name))
        if symbols is not None:
            malformed = watchlist_symbol_violations(symbols)
            violations.extend(malformed)
            # Only well-formed tickers are looked up: the others are reported already.
            if not malformed and symbols:
                known = await self._symbols.known_symbols(symbols)
                violations.extend(
                    FieldViolation(f"watchlist.symbols[{index}]", f"unknown symbol {symbol!r}")
                    for index, symbol in enumerate(symbols)
                    if symbol not in known
                )
        if violations:
            raise InvalidRequestError(violations)
