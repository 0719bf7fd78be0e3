"""UniverseService over the in-memory stores: paging, filters, field violations, NOT_FOUND and isolation."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from api_server import SYMBOLS, ServerFactory
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tickstock.v1 import universe_service_pb2 as pb
from tickstock.v1 import universe_service_pb2_grpc

Metadata = tuple[tuple[str, str], ...]

_BAD_TOKEN = "is not a page token of a previous response with the same query, market and type"
_ALL = [info.symbol for info in SYMBOLS]
_COMMON_STOCKS = [info.symbol for info in SYMBOLS if info.type == "CS"]


@dataclass(frozen=True)
class _Client:
    stub: universe_service_pb2_grpc.UniverseServiceStub
    alice: Metadata
    bob: Metadata


@pytest.fixture
async def client(start_api_server: ServerFactory) -> _Client:
    api = await start_api_server(universe_service=True)
    bob = await api.keys.create("bob")
    return _Client(
        stub=universe_service_pb2_grpc.UniverseServiceStub(api.channel),
        alice=api.metadata,
        bob=(("authorization", f"Bearer {bob.token}"),),
    )


async def _error(call: Awaitable[object]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value


def _violations(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    """The field violations of an INVALID_ARGUMENT error, in order."""
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    found: list[tuple[str, str]] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            found += [(v.field, v.description) for v in bad_request.field_violations]
    return found


async def _create(
    client: _Client, name: str, symbols: list[str], metadata: Metadata | None = None
) -> pb.Watchlist:
    response = await client.stub.CreateWatchlist(
        pb.CreateWatchlistRequest(watchlist=pb.Watchlist(name=name, symbols=symbols)),
        metadata=metadata or client.alice,
    )
    return response.watchlist


# --- ListSymbols --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "page_size", "expected"),
    [
        ({}, 0, _ALL),
        ({}, 1, _ALL),
        ({}, 3, _ALL),
        ({}, len(_ALL), _ALL),
        ({"type": "CS"}, 2, _COMMON_STOCKS),
        ({"query": "corp"}, 2, ["IBM", "MSFT", "NVDA"]),
    ],
)
async def test_pages_hold_every_matching_symbol_exactly_once(
    client: _Client, filters: dict[str, str], page_size: int, expected: list[str]
) -> None:
    # Arrange
    seen: list[str] = []
    token = ""
    pages = 0
    size = page_size or 100

    # Act
    while True:
        request = pb.ListSymbolsRequest(page_size=page_size, page_token=token, **filters)
        response = await client.stub.ListSymbols(request, metadata=client.alice)
        pages += 1
        assert len(response.symbols) <= size
        seen += [symbol.symbol for symbol in response.symbols]
        token = response.next_page_token
        if not token:
            break

    # Assert
    assert seen == expected
    assert pages == -(-len(expected) // size)  # ceiling division: no empty trailing page


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"query": "micro"}, ["AMD", "MSFT"]),
        ({"query": "ms"}, ["MSFT"]),
        ({"query": "CORP"}, ["IBM", "MSFT", "NVDA"]),
        ({"type": "etf"}, ["QQQ", "SPY"]),
        ({"market": "OTC"}, ["TSMWF"]),
        ({"market": "stocks", "type": "ETF", "query": "trust"}, ["QQQ", "SPY"]),
        ({"query": "%"}, []),
        ({"market": "crypto"}, []),
    ],
)
async def test_filters_select_matching_symbols(
    client: _Client, filters: dict[str, str], expected: list[str]
) -> None:
    # Act
    response = await client.stub.ListSymbols(pb.ListSymbolsRequest(**filters), metadata=client.alice)  # type: ignore[arg-type]

    # Assert
    assert [symbol.symbol for symbol in response.symbols] == expected
    assert response.next_page_token == ""


@pytest.mark.parametrize(
    "other",
    [
        pb.ListSymbolsRequest(type="ETF", page_size=2),
        pb.ListSymbolsRequest(type="CS", query="a", page_size=2),
        pb.ListSymbolsRequest(type="CS", market="otc", page_size=2),
        pb.ListSymbolsRequest(page_size=2),
    ],
)
async def test_a_token_of_another_request_is_refused_on_page_token(
    client: _Client, other: pb.ListSymbolsRequest
) -> None:
    # Arrange
    first = await client.stub.ListSymbols(
        pb.ListSymbolsRequest(type="CS", page_size=2), metadata=client.alice
    )
    other.page_token = first.next_page_token

    # Act
    error = await _error(client.stub.ListSymbols(other, metadata=client.alice))

    # Assert
    assert _violations(error) == [("page_token", _BAD_TOKEN)]


async def test_a_token_continues_its_request_with_another_page_size(client: _Client) -> None:
    # Arrange
    first = await client.stub.ListSymbols(
        pb.ListSymbolsRequest(type="CS", page_size=2), metadata=client.alice
    )

    # Act
    rest = await client.stub.ListSymbols(
        pb.ListSymbolsRequest(type="CS", page_size=100, page_token=first.next_page_token),
        metadata=client.alice,
    )

    # Assert
    assert [symbol.symbol for symbol in [*first.symbols, *rest.symbols]] == _COMMON_STOCKS


_CONTROL = "must not contain control characters"


@pytest.mark.parametrize(
    ("fields", "violations"),
    [
        ({"query": "q" * 65}, [("query", "must be at most 64 characters")]),
        ({"query": "app\x00le"}, [("query", "must not contain control characters")]),
        ({"market": "stocks\n", "type": "CS\t"}, [("market", _CONTROL), ("type", _CONTROL)]),
        # The proto's rules come first: a request beyond them is refused before any other check.
        ({"market": "stocks\n", "type": "C" * 17}, [("type", "must be at most 16 characters")]),
        ({"page_token": "t" * 1025}, [("page_token", "must be at most 1024 characters")]),
        (
            {"page_size": -1},
            [("page_size", "must be greater than or equal to 0 and less than or equal to 1000")],
        ),
        (
            {"page_size": 1001},
            [("page_size", "must be greater than or equal to 0 and less than or equal to 1000")],
        ),
        ({"page_token": "garbage!"}, [("page_token", _BAD_TOKEN)]),
        ({"page_token": "e30"}, [("page_token", _BAD_TOKEN)]),
    ],
)
async def test_invalid_list_request_names_its_fields(
    client: _Client, fields: dict[str, Any], violations: list[tuple[str, str]]
) -> None:
    # Act
    error = await _error(client.stub.ListSymbols(pb.ListSymbolsRequest(**fields), metadata=client.alice))

    # Assert
    assert _violations(error) == violations


# --- GetSymbol ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("requested", "symbol"), [("JPM", "JPM"), (" jpm ", "JPM"), ("brk.b", "BRK.B")])
async def test_get_symbol_returns_its_reference_data(client: _Client, requested: str, symbol: str) -> None:
    # Act
    response = await client.stub.GetSymbol(pb.GetSymbolRequest(symbol=requested), metadata=client.alice)

    # Assert
    assert response.symbol.symbol == symbol
    assert response.symbol.exchange == "XNYS"
    assert response.symbol.market_cap == (600_000_000_000 if symbol == "JPM" else 0)


@pytest.mark.parametrize(
    ("requested", "code"),
    [
        ("ZZZZ", grpc.StatusCode.NOT_FOUND),
        ("", grpc.StatusCode.INVALID_ARGUMENT),
        ("A B", grpc.StatusCode.INVALID_ARGUMENT),
        ("$$$", grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
async def test_get_unknown_or_malformed_symbol_fails(
    client: _Client, requested: str, code: grpc.StatusCode
) -> None:
    # Act
    error = await _error(client.stub.GetSymbol(pb.GetSymbolRequest(symbol=requested), metadata=client.alice))

    # Assert
    assert error.code() == code
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        assert _violations(error) == [("symbol", "is not a ticker")]


# --- ListUniverses, GetUniverse -----------------------------------------------------------------------


async def test_list_universes_returns_counts_without_members(client: _Client) -> None:
    # Act
    response = await client.stub.ListUniverses(pb.ListUniversesRequest(), metadata=client.alice)

    # Assert
    assert [(u.name, u.kind, u.member_count, list(u.symbols)) for u in response.universes] == [
        ("chips", pb.UNIVERSE_KIND_INDEX, 2, []),
        ("dow3", pb.UNIVERSE_KIND_INDEX, 3, []),
    ]


@pytest.mark.parametrize(
    ("key", "name", "kind", "symbols"),
    [
        ("dow3", "dow3", pb.UNIVERSE_KIND_INDEX, ["AAPL", "IBM", "MSFT"]),
        ("dow3:chips", "dow3:chips", pb.UNIVERSE_KIND_UNION, ["AAPL", "AMD", "IBM", "MSFT", "NVDA"]),
        ("chips:chips", "chips", pb.UNIVERSE_KIND_INDEX, ["AMD", "NVDA"]),
    ],
)
async def test_get_universe_returns_members_sorted(
    client: _Client, key: str, name: str, kind: int, symbols: list[str]
) -> None:
    # Act
    response = await client.stub.GetUniverse(pb.GetUniverseRequest(name=key), metadata=client.alice)

    # Assert
    universe = response.universe
    assert (universe.name, universe.kind, list(universe.symbols)) == (name, kind, symbols)
    assert universe.member_count == len(symbols)


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("nope", grpc.StatusCode.NOT_FOUND),
        ("dow3:nope", grpc.StatusCode.NOT_FOUND),
        ("", grpc.StatusCode.INVALID_ARGUMENT),
        ("Dow 3", grpc.StatusCode.INVALID_ARGUMENT),
        ("dow3:", grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
async def test_get_unknown_or_malformed_universe_fails(
    client: _Client, key: str, code: grpc.StatusCode
) -> None:
    # Act
    error = await _error(client.stub.GetUniverse(pb.GetUniverseRequest(name=key), metadata=client.alice))

    # Assert
    assert error.code() == code
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        assert {field for field, _ in _violations(error)} == {"name"}


# --- watchlists ---------------------------------------------------------------------------------------


async def test_created_watchlist_is_listed_and_read_back(client: _Client) -> None:
    # Act
    created = await _create(client, "Tech", ["MSFT", "AAPL"])
    listed = await client.stub.ListWatchlists(pb.ListWatchlistsRequest(), metadata=client.alice)
    read = await client.stub.GetWatchlist(
        pb.GetWatchlistRequest(watchlist_id=created.watchlist_id), metadata=client.alice
    )

    # Assert
    assert (created.name, list(created.symbols)) == ("Tech", ["MSFT", "AAPL"])
    assert created.create_time == created.update_time
    assert list(listed.watchlists) == [created]
    assert read.watchlist == created


@pytest.mark.parametrize(
    ("name", "symbols", "fields"),
    [
        ("", [], ["watchlist.name"]),
        (" Tech", [], ["watchlist.name"]),
        ("Tech", ["AAPL", "ZZZZ"], ["watchlist.symbols[1]"]),
        ("Tech", ["AAPL", "aapl", "AAPL"], ["watchlist.symbols[1]", "watchlist.symbols[2]"]),
        ("x" * 99 + "\n", ["not a ticker"], ["watchlist.name", "watchlist.symbols[0]"]),
        ("x" * 101, ["not a ticker"], ["watchlist.name"]),  # the proto's limit first
    ],
)
async def test_invalid_watchlist_names_its_fields_and_is_not_created(
    client: _Client, name: str, symbols: list[str], fields: list[str]
) -> None:
    # Act
    error = await _error(_create(client, name, symbols))
    listed = await client.stub.ListWatchlists(pb.ListWatchlistsRequest(), metadata=client.alice)

    # Assert
    assert [field for field, _ in _violations(error)] == fields
    assert list(listed.watchlists) == []


async def test_a_taken_name_is_already_exists(client: _Client) -> None:
    # Arrange
    await _create(client, "Tech", ["AAPL"])

    # Act
    error = await _error(_create(client, "Tech", ["MSFT"]))
    bobs = await _create(client, "Tech", ["MSFT"], client.bob)

    # Assert
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert bobs.name == "Tech"


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        ([], ("Renamed", ["IBM"])),
        (["name"], ("Renamed", ["AAPL", "MSFT"])),
        (["symbols"], ("Tech", ["IBM"])),
    ],
)
async def test_update_replaces_the_fields_of_its_mask(
    client: _Client, paths: list[str], expected: tuple[str, list[str]]
) -> None:
    # Arrange
    created = await _create(client, "Tech", ["AAPL", "MSFT"])
    changed = pb.Watchlist(watchlist_id=created.watchlist_id, name="Renamed", symbols=["IBM"])

    # Act
    response = await client.stub.UpdateWatchlist(
        pb.UpdateWatchlistRequest(watchlist=changed, update_mask=field_mask_pb2.FieldMask(paths=paths)),
        metadata=client.alice,
    )

    # Assert
    assert (response.watchlist.name, list(response.watchlist.symbols)) == expected
    assert response.watchlist.create_time == created.create_time


@pytest.mark.parametrize(
    ("paths", "name", "symbols", "fields"),
    [
        (["name", "watchlist_id"], "Renamed", [], ["update_mask"]),
        (["name"], "", [], ["watchlist.name"]),
        (["symbols"], "", ["ZZZZ"], ["watchlist.symbols[0]"]),
        ([], "", ["ibm"], ["watchlist.name", "watchlist.symbols[0]"]),
    ],
)
async def test_invalid_update_names_its_fields(
    client: _Client, paths: list[str], name: str, symbols: list[str], fields: list[str]
) -> None:
    # Arrange
    created = await _create(client, "Tech", ["AAPL"])
    changed = pb.Watchlist(watchlist_id=created.watchlist_id, name=name, symbols=symbols)

    # Act
    error = await _error(
        client.stub.UpdateWatchlist(
            pb.UpdateWatchlistRequest(watchlist=changed, update_mask=field_mask_pb2.FieldMask(paths=paths)),
            metadata=client.alice,
        )
    )

    # Assert
    assert [field for field, _ in _violations(error)] == fields


_Operation = Callable[[_Client, str, Metadata], Awaitable[object]]

_OPERATIONS: dict[str, _Operation] = {
    "get": lambda client, watchlist_id, metadata: client.stub.GetWatchlist(
        pb.GetWatchlistRequest(watchlist_id=watchlist_id), metadata=metadata
    ),
    "update": lambda client, watchlist_id, metadata: client.stub.UpdateWatchlist(
        pb.UpdateWatchlistRequest(
            watchlist=pb.Watchlist(watchlist_id=watchlist_id, name="Mine", symbols=["IBM"])
        ),
        metadata=metadata,
    ),
    "delete": lambda client, watchlist_id, metadata: client.stub.DeleteWatchlist(
        pb.DeleteWatchlistRequest(watchlist_id=watchlist_id), metadata=metadata
    ),
}


@pytest.mark.parametrize("operation", sorted(_OPERATIONS))
async def test_another_users_watchlist_is_not_found(client: _Client, operation: str) -> None:
    # Arrange
    alices = await _create(client, "Tech", ["AAPL"])

    # Act
    error = await _error(_OPERATIONS[operation](client, alices.watchlist_id, client.bob))
    bobs = await client.stub.ListWatchlists(pb.ListWatchlistsRequest(), metadata=client.bob)
    still = await client.stub.GetWatchlist(
        pb.GetWatchlistRequest(watchlist_id=alices.watchlist_id), metadata=client.alice
    )

    # Assert
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert list(bobs.watchlists) == []
    assert still.watchlist == alices


@pytest.mark.parametrize("operation", sorted(_OPERATIONS))
@pytest.mark.parametrize("watchlist_id", ["", "no-such-id", str(uuid.UUID(int=7))])
async def test_unknown_watchlist_is_not_found(client: _Client, operation: str, watchlist_id: str) -> None:
    # Act
    error = await _error(_OPERATIONS[operation](client, watchlist_id, client.alice))

    # Assert
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_deleted_watchlist_is_gone(client: _Client) -> None:
    # Arrange
    created = await _create(client, "Tech", ["AAPL"])

    # Act
    await client.stub.DeleteWatchlist(
        pb.DeleteWatchlistRequest(watchlist_id=created.watchlist_id), metadata=client.alice
    )

    # Assert
    error = await _error(_OPERATIONS["get"](client, created.watchlist_id, client.alice))
    listed = await client.stub.ListWatchlists(pb.ListWatchlistsRequest(), metadata=client.alice)
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert list(listed.watchlists) == []
