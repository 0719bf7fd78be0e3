"""UniverseCatalog: ticker and universe-key checks, unions and resolution, over the in-memory store."""

from __future__ import annotations

import pytest

from tickstock_server.adapters.memory.universes import MemoryUniverses
from tickstock_server.domain.universes import SymbolInfo, SymbolSearch, Universe, UniverseKind
from tickstock_server.errors import InvalidRequestError, NotFoundError
from tickstock_server.universes.service import UniverseCatalog

_UNIVERSES = (
    Universe(
        name="dow3", description="Three Dow stocks", kind=UniverseKind.INDEX, symbols=("IBM", "AAPL", "MSFT")
    ),
    Universe(
        name="chips", description="Chip makers", kind=UniverseKind.SECTOR, symbols=("NVDA", "AMD", "MSFT")
    ),
)
_SYMBOLS = (
    SymbolInfo(symbol="AAPL", name="Apple Inc.", exchange="XNAS"),
    SymbolInfo(symbol="BRK.B", name="Berkshire Hathaway Inc. (Class B)", exchange="XNYS"),
)


@pytest.fixture
def catalog() -> UniverseCatalog:
    return UniverseCatalog(MemoryUniverses(_UNIVERSES, symbols=_SYMBOLS))


@pytest.mark.parametrize("symbol", ["AAPL", "BRK.B"])
async def test_ticker_returns_its_symbol(catalog: UniverseCatalog, symbol: str) -> None:
    # Act
    info = await catalog.get_symbol(symbol)

    # Assert
    assert info.symbol == symbol


@pytest.mark.parametrize("symbol", ["aapl", "", "A B", "TOOLONGTICKER1234", "1ABC"])
async def test_malformed_ticker_raises_invalid_request_on_symbol(
    catalog: UniverseCatalog, symbol: str
) -> None:
    # Act / Assert
    with pytest.raises(InvalidRequestError) as caught:
        await catalog.get_symbol(symbol)
    assert [(v.field, v.description) for v in caught.value.violations] == [("symbol", "is not a ticker")]


async def test_unknown_ticker_raises_not_found(catalog: UniverseCatalog) -> None:
    # Act / Assert
    with pytest.raises(NotFoundError, match="unknown symbol 'ZZZZ'"):
        await catalog.get_symbol("ZZZZ")


async def test_list_symbols_passes_search_and_cursor_through(catalog: UniverseCatalog) -> None:
    # Act
    page = await catalog.list_symbols(SymbolSearch(query="b"), after="AAPL", limit=1)

    # Assert
    assert [info.symbol for info in page.symbols] == ["BRK.B"]
    assert page.has_more is False


async def test_one_name_returns_that_stored_universe(catalog: UniverseCatalog) -> None:
    # Act
    universe = await catalog.get_universe("dow3")

    # Assert
    assert universe == Universe(
        name="dow3", description="Three Dow stocks", kind=UniverseKind.INDEX, symbols=("AAPL", "IBM", "MSFT")
    )


@pytest.mark.parametrize(("key", "name"), [("dow3:chips", "dow3:chips"), ("chips:dow3:chips", "chips:dow3")])
async def test_union_key_returns_union_of_distinct_parts(
    catalog: UniverseCatalog, key: str, name: str
) -> None:
    # Act
    universe = await catalog.get_universe(key)

    # Assert
    assert universe.name == name
    assert universe.kind is UniverseKind.UNION
    assert universe.description == "Union of " + ", ".join(name.split(":"))
    assert universe.symbols == ("AAPL", "AMD", "IBM", "MSFT", "NVDA")


async def test_key_repeating_one_universe_returns_that_universe(catalog: UniverseCatalog) -> None:
    # Act
    universe = await catalog.get_universe("dow3:dow3")

    # Assert
    assert (universe.name, universe.kind) == ("dow3", UniverseKind.INDEX)


@pytest.mark.parametrize("key", ["", "S&P 500", "dow3:", "Dow3"])
async def test_malformed_key_raises_invalid_request_on_name(catalog: UniverseCatalog, key: str) -> None:
    # Act / Assert
    with pytest.raises(InvalidRequestError) as caught:
        await catalog.get_universe(key)
    assert {violation.field for violation in caught.value.violations} == {"name"}


@pytest.mark.parametrize(("key", "missing"), [("nope", "'nope'"), ("dow3:nope:gone", "'nope', 'gone'")])
async def test_unknown_universe_raises_not_found_naming_it(
    catalog: UniverseCatalog, key: str, missing: str
) -> None:
    # Act / Assert
    with pytest.raises(NotFoundError, match=f"unknown universe {missing}$"):
        await catalog.get_universe(key)


async def test_resolve_returns_members_of_every_key(catalog: UniverseCatalog) -> None:
    # Act
    symbols = await catalog.resolve(["dow3", "chips:dow3"])

    # Assert
    assert symbols == frozenset({"AAPL", "AMD", "IBM", "MSFT", "NVDA"})


async def test_resolve_no_keys_returns_empty_set(catalog: UniverseCatalog) -> None:
    # Act / Assert
    assert await catalog.resolve([]) == frozenset()


async def test_resolve_reports_every_malformed_key_by_index(catalog: UniverseCatalog) -> None:
    # Act / Assert
    with pytest.raises(InvalidRequestError) as caught:
        await catalog.resolve(["dow3", "Bad", "also bad", "nope"])
    assert [violation.field for violation in caught.value.violations] == ["universes[1]", "universes[2]"]


async def test_resolve_unknown_universe_raises_not_found(catalog: UniverseCatalog) -> None:
    # Act / Assert
    with pytest.raises(NotFoundError, match="unknown universe 'nope'"):
        await catalog.resolve(["dow3", "nope"])
