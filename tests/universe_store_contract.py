"""The behaviour every UniverseStore must have, run against each implementation (memory and PostgreSQL).

Subclasses provide a `store` fixture holding exactly `SYMBOLS` and `UNIVERSES`; pytest collects the
inherited tests for each of them.
"""

from __future__ import annotations

import pytest

from tickstock_server.domain.universes import (
    SymbolInfo,
    SymbolSearch,
    Universe,
    UniverseKind,
    UniverseSummary,
)
from tickstock_server.errors import NotFoundError
from tickstock_server.ports.universes import UniverseStore

SYMBOLS = (
    SymbolInfo(
        symbol="AA", name="Alcoa Corp.", exchange="XNYS", sector="Materials", market_cap_usd=9_000_000_000
    ),
    SymbolInfo(symbol="AAL", name="American Airlines Group Inc.", exchange="XNAS", sector="Industrials"),
    SymbolInfo(symbol="AAPL", name="Apple Inc.", exchange="XNAS", industry="Technology Hardware"),
    SymbolInfo(symbol="BRK.B", name="Berkshire Hathaway Inc. (Class B)", exchange="XNYS"),
    SymbolInfo(symbol="BRO", name="Brown & Brown, Inc.", exchange="XNYS"),
    SymbolInfo(symbol="MSFT", name="Microsoft Corp.", exchange="XNAS"),
    SymbolInfo(symbol="PNPL", name="Pineapple Holdings", exchange="OTC", market="otc", active=False),
    SymbolInfo(symbol="QQQ", name="Invesco QQQ Trust", exchange="XNAS", type="ETF"),
    SymbolInfo(symbol="SPY", name="SPDR S&P 500 ETF Trust", exchange="ARCX", type="ETF", currency="USD"),
)
"""The symbols a store under test holds, sorted by ticker (bytewise: BRK.B before BRO)."""

UNIVERSES = (
    Universe(
        name="dow3",
        description="Three Dow stocks",
        kind=UniverseKind.INDEX,
        symbols=("AAPL", "MSFT", "BRK.B"),
    ),
    Universe(name="etf_major", description="Major ETFs", kind=UniverseKind.ETF, symbols=("QQQ", "SPY")),
    Universe(name="theme_empty", description="No members yet", kind=UniverseKind.THEME, symbols=()),
    Universe(name="theme_tech", description="Tech", kind=UniverseKind.THEME, symbols=("MSFT", "AAPL", "QQQ")),
)
"""The universes a store under test holds (members in any order)."""

_TICKERS = [info.symbol for info in SYMBOLS]


def _tickers(infos: tuple[SymbolInfo, ...]) -> list[str]:
    return [info.symbol for info in infos]


class UniverseStoreContract:
    """Tests of the UniverseStore port."""

    @pytest.mark.parametrize(
        ("search", "expected"),
        [
            (SymbolSearch(), _TICKERS),
            (SymbolSearch(query="AA"), ["AA", "AAL", "AAPL"]),
            (SymbolSearch(query="aa"), ["AA", "AAL", "AAPL"]),
            (SymbolSearch(query="apple"), ["AAPL", "PNPL"]),
            (SymbolSearch(query="BR"), ["BRK.B", "BRO"]),
            (SymbolSearch(query="%"), []),
            (SymbolSearch(query="_"), []),
            (SymbolSearch(query="\\"), []),
            (SymbolSearch(symbol_type="etf"), ["QQQ", "SPY"]),
            (SymbolSearch(market="OTC"), ["PNPL"]),
            (SymbolSearch(market="stocks", symbol_type="CS", query="a"), ["AA", "AAL", "AAPL", "BRK.B"]),
            (SymbolSearch(market="crypto"), []),
        ],
    )
    async def test_search_returns_matching_symbols_sorted(
        self, store: UniverseStore, search: SymbolSearch, expected: list[str]
    ) -> None:
        # Act
        page = await store.list_symbols(search, after=None, limit=100)

        # Assert
        assert _tickers(page.symbols) == expected
        assert page.has_more is False

    async def test_symbols_keep_their_reference_data(self, store: UniverseStore) -> None:
        # Act
        page = await store.list_symbols(SymbolSearch(), after=None, limit=100)

        # Assert
        assert page.symbols == SYMBOLS

    @pytest.mark.parametrize("limit", [1, 2, 4, 8, 9])
    async def test_pages_after_each_last_ticker_hold_every_symbol_once(
        self, store: UniverseStore, limit: int
    ) -> None:
        # Arrange
        seen: list[str] = []
        after: str | None = None
        pages = 0

        # Act
        while True:
            page = await store.list_symbols(SymbolSearch(), after=after, limit=limit)
            pages += 1
            seen.extend(_tickers(page.symbols))
            if not page.has_more:
                break
            after = page.symbols[-1].symbol

        # Assert
        assert seen == _TICKERS
        assert pages == -(-len(_TICKERS) // limit)  # no empty trailing page

    async def test_after_skips_tickers_up_to_and_including_it(self, store: UniverseStore) -> None:
        # Act
        page = await store.list_symbols(SymbolSearch(query="a"), after="AAL", limit=2)

        # Assert: AAPL, then BRK.B (a in its name); PNPL follows
        assert _tickers(page.symbols) == ["AAPL", "BRK.B"]
        assert page.has_more is True

    async def test_get_symbol_returns_its_reference_data(self, store: UniverseStore) -> None:
        # Act
        info = await store.get_symbol("BRK.B")

        # Assert
        assert info == SYMBOLS[3]

    @pytest.mark.parametrize("symbol", ["ZZZZ", "aapl", ""])
    async def test_get_unknown_symbol_raises_not_found(self, store: UniverseStore, symbol: str) -> None:
        # Act / Assert
        with pytest.raises(NotFoundError):
            await store.get_symbol(symbol)

    async def test_known_symbols_returns_those_that_exist(self, store: UniverseStore) -> None:
        # Act
        known = await store.known_symbols(["MSFT", "ZZZZ", "SPY", "msft"])

        # Assert
        assert known == frozenset({"MSFT", "SPY"})
        assert await store.known_symbols([]) == frozenset()

    async def test_list_universes_is_sorted_with_member_counts(self, store: UniverseStore) -> None:
        # Act
        summaries = await store.list_universes()

        # Assert
        assert summaries == tuple(
            UniverseSummary(name=u.name, description=u.description, kind=u.kind, member_count=len(u.symbols))
            for u in UNIVERSES
        )

    async def test_get_universe_returns_members_sorted(self, store: UniverseStore) -> None:
        # Act
        universe = await store.get_universe("theme_tech")

        # Assert
        assert universe == Universe(
            name="theme_tech", description="Tech", kind=UniverseKind.THEME, symbols=("AAPL", "MSFT", "QQQ")
        )

    async def test_get_universe_without_members_returns_it_empty(self, store: UniverseStore) -> None:
        # Act
        universe = await store.get_universe("theme_empty")

        # Assert
        assert (universe.symbols, universe.member_count) == ((), 0)

    async def test_get_unknown_universe_raises_not_found_naming_it(self, store: UniverseStore) -> None:
        # Act / Assert
        with pytest.raises(NotFoundError, match="unknown universe 'nope'"):
            await store.get_universe("nope")

    @pytest.mark.parametrize(
        ("names", "expected"),
        [
            (["dow3", "theme_tech"], ("AAPL", "BRK.B", "MSFT", "QQQ")),
            (["etf_major", "etf_major"], ("QQQ", "SPY")),
            (["theme_empty"], ()),
            (["theme_empty", "dow3"], ("AAPL", "BRK.B", "MSFT")),
        ],
    )
    async def test_union_members_are_sorted_and_distinct(
        self, store: UniverseStore, names: list[str], expected: tuple[str, ...]
    ) -> None:
        # Act
        members = await store.union_members(names)

        # Assert
        assert members == expected

    async def test_union_with_unknown_universes_raises_not_found_naming_each(
        self, store: UniverseStore
    ) -> None:
        # Act / Assert
        with pytest.raises(NotFoundError, match="unknown universe 'nope', 'gone'"):
            await store.union_members(["nope", "dow3", "gone"])
