"""Schema 0003, the seed loader, PgUniverseStore and the catalog over it on a real PostgreSQL.

The module's tests read the packaged seed data through `UniverseCatalog`; `TestPgUniverseStore` runs the
store's contract on the contract's own data.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from universe_store_contract import SYMBOLS, UNIVERSES, UniverseStoreContract

from tickstock.v1 import universe_service_pb2
from tickstock_server.api.mappers.universe_service import parse_list_symbols, symbols_page_token
from tickstock_server.domain.universes import SymbolInfo, UniverseKind
from tickstock_server.errors import InvalidRequestError, NotFoundError
from tickstock_server.simulation.market import REAL_TICKERS
from tickstock_server.storage.migrate import apply_migrations, load_migrations
from tickstock_server.storage.seed import default_seed_dir, load_seed_data, read_seed_data
from tickstock_server.storage.universes import PgUniverseStore
from tickstock_server.universes.service import UniverseCatalog

_TABLES = ("symbols", "universes", "universe_members", "watchlists", "seed_state")


@pytest.fixture
async def catalog(pg_pool: asyncpg.Pool) -> AsyncIterator[UniverseCatalog]:
    await apply_migrations(pg_pool)
    await load_seed_data(pg_pool)
    yield UniverseCatalog(PgUniverseStore(pg_pool))


class TestPgUniverseStore(UniverseStoreContract):
    @pytest.fixture
    async def store(self, pg_pool: asyncpg.Pool) -> PgUniverseStore:
        await apply_migrations(pg_pool)
        await _insert(pg_pool)
        return PgUniverseStore(pg_pool)


async def _insert(pool: asyncpg.Pool) -> None:
    """Store the contract's symbols and universes."""
    await pool.executemany(
        "INSERT INTO symbols (symbol, name, exchange, market, type, sector, industry, active, currency,"
        " market_cap) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        [
            (s.symbol, s.name, s.exchange, s.market, s.type, s.sector, s.industry, s.active, s.currency)
            + (s.market_cap_usd,)
            for s in SYMBOLS
        ],
    )
    await pool.executemany(
        "INSERT INTO universes (name, description, kind) VALUES ($1, $2, $3)",
        [(u.name, u.description, u.kind.value) for u in UNIVERSES],
    )
    await pool.executemany(
        "INSERT INTO universe_members (universe, symbol) VALUES ($1, $2)",
        [(u.name, symbol) for u in UNIVERSES for symbol in u.symbols],
    )


@pytest.fixture
def seed_copy(tmp_path: Path) -> Path:
    """A writable copy of the packaged seed files."""
    directory = tmp_path / "seed"
    directory.mkdir()
    for name in ("symbols.csv", "universes.json"):
        shutil.copyfile(Path(str(default_seed_dir() / name)), directory / name)
    return directory


@dataclass(frozen=True)
class _Page:
    symbols: tuple[SymbolInfo, ...]
    next_page_token: str


async def _list_symbols(
    catalog: UniverseCatalog,
    *,
    query: str = "",
    market: str = "",
    symbol_type: str = "",
    page_size: int = 0,
    page_token: str = "",
) -> _Page:
    """ListSymbols as its servicer runs it: the mapper checks the request and its token, the catalog reads."""
    request = universe_service_pb2.ListSymbolsRequest(
        query=query, market=market, type=symbol_type, page_size=page_size, page_token=page_token
    )
    parsed = parse_list_symbols(request)
    page = await catalog.list_symbols(parsed.search, after=parsed.after, limit=parsed.limit)
    token = symbols_page_token(request, page.symbols[-1].symbol) if page.has_more else ""
    return _Page(symbols=page.symbols, next_page_token=token)


async def _all_symbols(pool: asyncpg.Pool, where: str = "true") -> list[str]:
    rows = await pool.fetch(f"SELECT symbol FROM symbols WHERE {where} ORDER BY symbol")
    return [row["symbol"] for row in rows]


# --- migrations ---------------------------------------------------------------------------------------


async def test_empty_database_migrations_create_universe_tables(pg_pool: asyncpg.Pool) -> None:
    # Act
    applied = await apply_migrations(pg_pool)

    # Assert
    assert 3 in applied
    for table in _TABLES:
        assert await pg_pool.fetchval("SELECT to_regclass($1) IS NOT NULL", table), table


async def test_migrated_database_rerun_applies_nothing_and_keeps_data(pg_pool: asyncpg.Pool) -> None:
    # Arrange
    await apply_migrations(pg_pool)
    await load_seed_data(pg_pool)
    count_before = await pg_pool.fetchval("SELECT count(*) FROM symbols")

    # Act
    applied = await apply_migrations(pg_pool)

    # Assert
    assert applied == []
    assert await pg_pool.fetchval("SELECT count(*) FROM symbols") == count_before
    assert max(migration.version for migration in load_migrations()) >= 3


# --- seed loading -------------------------------------------------------------------------------------


async def test_first_load_inserts_every_symbol_and_universe(pg_pool: asyncpg.Pool) -> None:
    # Arrange
    await apply_migrations(pg_pool)
    data = read_seed_data()

    # Act
    loaded = await load_seed_data(pg_pool)

    # Assert
    assert loaded is True
    assert await pg_pool.fetchval("SELECT count(*) FROM symbols") == len(data.symbols)
    assert await pg_pool.fetchval("SELECT count(*) FROM universes") == len(data.universes)
    assert await pg_pool.fetchval("SELECT count(*) FROM universe_members") == sum(
        universe.member_count for universe in data.universes
    )
    assert await pg_pool.fetchval("SELECT checksum FROM seed_state") == data.checksum


async def test_second_load_of_same_files_is_a_no_op(pg_pool: asyncpg.Pool) -> None:
    # Arrange
    await apply_migrations(pg_pool)
    await load_seed_data(pg_pool)
    loaded_at = await pg_pool.fetchval("SELECT loaded_at FROM seed_state")

    # Act
    loaded = await load_seed_data(pg_pool)

    # Assert
    assert loaded is False
    assert await pg_pool.fetchval("SELECT loaded_at FROM seed_state") == loaded_at


async def test_changed_files_are_loaded_again(pg_pool: asyncpg.Pool, seed_copy: Path) -> None:
    # Arrange: load the copy, then rename Apple, drop theme_ev and shrink dow30 to three members
    await apply_migrations(pg_pool)
    assert await load_seed_data(pg_pool, seed_copy) is True
    csv_path = seed_copy / "symbols.csv"
    csv_path.write_text(csv_path.read_text().replace("AAPL,Apple Inc.,", "AAPL,Apple Renamed Inc.,"))
    document = json.loads((seed_copy / "universes.json").read_text())
    document["universes"] = [entry for entry in document["universes"] if entry["name"] != "theme_ev"]
    for entry in document["universes"]:
        if entry["name"] == "dow30":
            entry["symbols"] = ["AAPL", "MSFT", "NVDA"]
    (seed_copy / "universes.json").write_text(json.dumps(document))
    catalog = UniverseCatalog(PgUniverseStore(pg_pool))

    # Act
    loaded = await load_seed_data(pg_pool, seed_copy)

    # Assert
    assert loaded is True
    assert (await catalog.get_symbol("AAPL")).name == "Apple Renamed Inc."
    assert (await catalog.get_universe("dow30")).symbols == ("AAPL", "MSFT", "NVDA")
    with pytest.raises(NotFoundError):
        await catalog.get_universe("theme_ev")
    assert await load_seed_data(pg_pool, seed_copy) is False


async def test_packaged_seed_covers_real_tickers_and_dow30_has_30_members(catalog: UniverseCatalog) -> None:
    # Act
    dow30 = await catalog.get_universe("dow30")
    symbols = {symbol for symbol in REAL_TICKERS if await _exists(catalog, symbol)}

    # Assert
    assert dow30.member_count == 30
    assert dow30.kind is UniverseKind.INDEX
    assert symbols == set(REAL_TICKERS)


async def _exists(catalog: UniverseCatalog, symbol: str) -> bool:
    try:
        await catalog.get_symbol(symbol)
    except NotFoundError:
        return False
    return True


async def test_sector_universes_partition_sp500(catalog: UniverseCatalog) -> None:
    # Arrange
    summaries = await catalog.list_universes()
    sectors = [summary.name for summary in summaries if summary.kind is UniverseKind.SECTOR]

    # Act
    members = [set((await catalog.get_universe(name)).symbols) for name in sectors]
    sp500 = set((await catalog.get_universe("sp500")).symbols)

    # Assert: 11 GICS sectors, disjoint, together exactly the S&P 500
    assert len(sectors) == 11
    assert sum(len(member_set) for member_set in members) == len(sp500)
    assert set().union(*members) == sp500


# --- symbols ------------------------------------------------------------------------------------------


async def test_prefix_query_returns_tickers_starting_with_it(catalog: UniverseCatalog) -> None:
    # Act
    page = await _list_symbols(catalog, query="AA", page_size=1000)

    # Assert
    tickers = [symbol.symbol for symbol in page.symbols]
    assert {"AA", "AAL", "AAPL"} <= set(tickers)
    assert all(
        t.startswith("AA") or "aa" in s.name.lower() for t, s in zip(tickers, page.symbols, strict=True)
    )
    assert tickers == sorted(tickers)


@pytest.mark.parametrize("query", ["apple", "APPLE", "aPpLe"])
async def test_name_query_is_case_insensitive_substring(catalog: UniverseCatalog, query: str) -> None:
    # Act
    page = await _list_symbols(catalog, query=query)

    # Assert
    assert "AAPL" in [symbol.symbol for symbol in page.symbols]
    assert all("apple" in symbol.name.lower() for symbol in page.symbols)


@pytest.mark.parametrize("query", ["%", "_", "A%", "\\"])
async def test_like_wildcards_in_query_match_literally(catalog: UniverseCatalog, query: str) -> None:
    # Act
    page = await _list_symbols(catalog, query=query)

    # Assert: no ticker or name in the seed data contains these characters
    assert page.symbols == ()


async def test_type_filter_returns_only_that_type(catalog: UniverseCatalog, pg_pool: asyncpg.Pool) -> None:
    # Act
    etfs = await _list_symbols(catalog, symbol_type="etf", page_size=1000)
    stocks = await _list_symbols(catalog, market="STOCKS", symbol_type="CS", page_size=1000)

    # Assert
    assert [symbol.symbol for symbol in etfs.symbols] == await _all_symbols(pg_pool, "type = 'ETF'")
    assert {"SPY", "QQQ", "IWM", "DIA"} <= {symbol.symbol for symbol in etfs.symbols}
    assert "SPY" not in {symbol.symbol for symbol in stocks.symbols}
    assert all(symbol.type == "CS" for symbol in stocks.symbols)


async def test_unknown_market_returns_empty_last_page(catalog: UniverseCatalog) -> None:
    # Act
    page = await _list_symbols(catalog, market="crypto")

    # Assert
    assert page.symbols == ()
    assert page.next_page_token == ""


async def test_paging_returns_every_row_once_in_order(
    catalog: UniverseCatalog, pg_pool: asyncpg.Pool
) -> None:
    # Arrange
    expected = await _all_symbols(pg_pool, "type = 'CS'")
    seen: list[str] = []
    token = ""
    pages = 0

    # Act
    while True:
        page = await _list_symbols(catalog, symbol_type="CS", page_size=37, page_token=token)
        pages += 1
        assert len(page.symbols) <= 37
        seen.extend(symbol.symbol for symbol in page.symbols)
        token = page.next_page_token
        if not token:
            break

    # Assert
    assert seen == expected
    assert seen == sorted(seen)  # bytewise ("C") order, as Python sorts: BRK.B before BRO
    assert pages == -(-len(expected) // 37)  # ceiling division: no empty trailing page


async def test_oversized_page_is_capped_at_1000(catalog: UniverseCatalog, pg_pool: asyncpg.Pool) -> None:
    # Act
    page = await _list_symbols(catalog, page_size=5000)

    # Assert: the seed holds fewer than 1000 symbols, so one page has them all
    assert [symbol.symbol for symbol in page.symbols] == await _all_symbols(pg_pool)


@pytest.mark.parametrize("token", ["garbage!", "e30", "bm90IGpzb24"])  # not base64, {}, "not json"
async def test_malformed_page_token_raises_invalid_request(catalog: UniverseCatalog, token: str) -> None:
    # Act / Assert
    with pytest.raises(InvalidRequestError) as caught:
        await _list_symbols(catalog, page_token=token)
    assert [violation.field for violation in caught.value.violations] == ["page_token"]


async def test_page_token_with_other_filters_raises_invalid_request(catalog: UniverseCatalog) -> None:
    # Arrange
    first = await _list_symbols(catalog, symbol_type="CS", page_size=10)

    # Act / Assert
    with pytest.raises(InvalidRequestError):
        await _list_symbols(catalog, symbol_type="ETF", page_size=10, page_token=first.next_page_token)


async def test_get_symbol_returns_reference_data(catalog: UniverseCatalog) -> None:
    # Act
    symbol = await catalog.get_symbol("BRK.B")

    # Assert
    assert symbol == SymbolInfo(
        symbol="BRK.B",
        name="Berkshire Hathaway Inc. (Class B)",
        exchange="XNYS",
        market="stocks",
        type="CS",
        sector="Financials",
        industry="Multi-Sector Holdings",
        active=True,
        currency="USD",
        market_cap_usd=1_070_000_000_000,
    )


async def test_get_unknown_symbol_raises_not_found(catalog: UniverseCatalog) -> None:
    # Act / Assert
    with pytest.raises(NotFoundError):
        await catalog.get_symbol("ZZZZZ")


async def test_get_malformed_symbol_raises_invalid_request(catalog: UniverseCatalog) -> None:
    # Act / Assert
    with pytest.raises(InvalidRequestError):
        await catalog.get_symbol("aapl")


# --- universes ----------------------------------------------------------------------------------------


async def test_list_universes_is_sorted_with_member_counts(catalog: UniverseCatalog) -> None:
    # Act
    summaries = await catalog.list_universes()

    # Assert
    names = [summary.name for summary in summaries]
    assert names == sorted(names)
    assert {"sp500", "nasdaq100", "dow30", "etf_major", "sector_technology", "theme_ai"} <= set(names)
    for summary in summaries:
        assert summary.member_count == (await catalog.get_universe(summary.name)).member_count


async def test_union_key_returns_set_union_sorted(catalog: UniverseCatalog) -> None:
    # Arrange
    sp500 = set((await catalog.get_universe("sp500")).symbols)
    nasdaq100 = set((await catalog.get_universe("nasdaq100")).symbols)

    # Act
    union = await catalog.get_universe("sp500:nasdaq100")

    # Assert
    assert union.kind is UniverseKind.UNION
    assert union.name == "sp500:nasdaq100"
    assert union.symbols == tuple(sorted(sp500 | nasdaq100))
    assert len(sp500) < union.member_count < len(sp500) + len(nasdaq100)  # they overlap, not nest


async def test_key_repeating_one_universe_is_that_universe(catalog: UniverseCatalog) -> None:
    # Act
    universe = await catalog.get_universe("dow30:dow30")

    # Assert
    assert universe.name == "dow30"
    assert universe.kind is UniverseKind.INDEX
    assert universe.member_count == 30


@pytest.mark.parametrize("key", ["nope", "sp500:nope"])
async def test_unknown_universe_raises_not_found(catalog: UniverseCatalog, key: str) -> None:
    # Act / Assert
    with pytest.raises(NotFoundError, match="nope"):
        await catalog.get_universe(key)


async def test_malformed_universe_key_raises_invalid_request(catalog: UniverseCatalog) -> None:
    # Act / Assert
    with pytest.raises(InvalidRequestError):
        await catalog.get_universe("S&P 500")


async def test_resolve_returns_union_of_all_keys(catalog: UniverseCatalog) -> None:
    # Arrange
    dow30 = set((await catalog.get_universe("dow30")).symbols)
    ev = set((await catalog.get_universe("theme_ev")).symbols)
    etfs = set((await catalog.get_universe("etf_sectors")).symbols)

    # Act
    resolved = await catalog.resolve(["dow30:theme_ev", "etf_sectors"])

    # Assert
    assert resolved == frozenset(dow30 | ev | etfs)


async def test_resolve_no_keys_returns_empty_set(catalog: UniverseCatalog) -> None:
    # Act / Assert
    assert await catalog.resolve([]) == frozenset()


async def test_resolve_reports_every_malformed_key_by_index(catalog: UniverseCatalog) -> None:
    # Act / Assert
    with pytest.raises(InvalidRequestError) as caught:
        await catalog.resolve(["sp500", "Bad", "also bad"])
    assert [violation.field for violation in caught.value.violations] == ["universes[1]", "universes[2]"]


async def test_resolve_unknown_key_raises_not_found(catalog: UniverseCatalog) -> None:
    # Act / Assert
    with pytest.raises(NotFoundError):
        await catalog.resolve(["sp500", "nope"])
