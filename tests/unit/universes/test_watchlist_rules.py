"""Watchlists: names, tickers and per-user limits checked before the in-memory store writes."""

from __future__ import annotations

from collections.abc import Awaitable

import pytest

from tickstock_server.adapters.memory.universes import MemoryUniverses, MemoryWatchlists
from tickstock_server.domain.universes import SymbolInfo, WatchlistLimits
from tickstock_server.errors import AlreadyExistsError, InvalidRequestError, LimitExceededError, NotFoundError
from tickstock_server.universes.service import Watchlists

_KNOWN = ("AAPL", "AMZN", "META", "MSFT", "NVDA", "TSLA")
_LIMITS = WatchlistLimits(max_watchlists_per_user=2, max_symbols_per_watchlist=5)


class _UuidWatchlists(MemoryWatchlists):
    """A store whose ids, like PostgreSQL's, are UUIDs only."""

    def is_watchlist_id(self, watchlist_id: str) -> bool:
        return len(watchlist_id) == 36


@pytest.fixture
def store() -> MemoryWatchlists:
    return _UuidWatchlists(clock_ns=lambda: 1_700_000_000_000_000_000)


@pytest.fixture
def watchlists(store: MemoryWatchlists) -> Watchlists:
    symbols = MemoryUniverses(
        symbols=[SymbolInfo(symbol=ticker, name=ticker, exchange="XNAS") for ticker in _KNOWN]
    )
    return Watchlists(store, symbols=symbols, limits=_LIMITS)


async def _fields(action: Awaitable[object]) -> list[str]:
    """The fields of the InvalidRequestError that `action` raises."""
    with pytest.raises(InvalidRequestError) as caught:
        await action
    return [violation.field for violation in caught.value.violations]


async def test_valid_watchlist_is_stored_with_the_clock_time(
    watchlists: Watchlists, store: MemoryWatchlists
) -> None:
    # Act
    created = await watchlists.create("alice", "Tech", ["MSFT", "AAPL"])

    # Assert
    assert await store.get("alice", created.watchlist_id) == created
    assert (created.symbols, created.create_ns) == (("MSFT", "AAPL"), 1_700_000_000_000_000_000)


@pytest.mark.parametrize(
    ("name", "symbols", "fields"),
    [
        ("", [], ["watchlist.name"]),
        (" Tech", [], ["watchlist.name"]),
        ("x" * 101, [], ["watchlist.name"]),
        ("Tab\there", [], ["watchlist.name"]),
        ("Tech", ["AAPL", "ZZZZ", "QQQQ"], ["watchlist.symbols[1]", "watchlist.symbols[2]"]),
        ("Tech", ["AAPL", "aapl", "AAPL"], ["watchlist.symbols[1]", "watchlist.symbols[2]"]),
        # Malformed tickers are reported, and then no ticker is looked up: ZZZZ passes unnoticed.
        ("", ["ZZZZ", "a b"], ["watchlist.name", "watchlist.symbols[1]"]),
    ],
)
async def test_bad_name_or_tickers_raise_every_field_and_store_nothing(
    watchlists: Watchlists, name: str, symbols: list[str], fields: list[str]
) -> None:
    # Act / Assert
    assert await _fields(watchlists.create("alice", name, symbols)) == fields
    assert await watchlists.list("alice") == ()


async def test_unknown_ticker_is_named_in_its_violation(watchlists: Watchlists) -> None:
    # Act / Assert
    with pytest.raises(InvalidRequestError) as caught:
        await watchlists.create("alice", "Tech", ["ZZZZ"])
    assert caught.value.violations[0].description == "unknown symbol 'ZZZZ'"


async def test_too_many_symbols_raise_limit_exceeded_before_the_fields_are_checked(
    watchlists: Watchlists,
) -> None:
    # Arrange
    created = await watchlists.create("alice", "Five", _KNOWN[:5])

    # Act / Assert: six symbols, one of them malformed, and a bad name
    with pytest.raises(LimitExceededError, match="a watchlist may hold at most 5 symbols, not 6"):
        await watchlists.create("alice", "", [*_KNOWN[:5], "bad"])
    with pytest.raises(LimitExceededError):
        await watchlists.update("alice", created.watchlist_id, symbols=_KNOWN)


async def test_watchlist_beyond_per_user_limit_raises_limit_exceeded(watchlists: Watchlists) -> None:
    # Arrange: the limit is 2
    await watchlists.create("alice", "one", [])
    await watchlists.create("alice", "two", [])

    # Act / Assert
    with pytest.raises(LimitExceededError, match="a user may have at most 2 watchlists"):
        await watchlists.create("alice", "three", [])
    assert (await watchlists.create("bob", "one", [])).user == "bob"


async def test_per_user_limit_is_checked_before_the_name_is_taken(watchlists: Watchlists) -> None:
    # Arrange
    await watchlists.create("alice", "one", [])
    await watchlists.create("alice", "two", [])

    # Act / Assert
    with pytest.raises(LimitExceededError):
        await watchlists.create("alice", "one", [])


async def test_taken_name_raises_already_exists(watchlists: Watchlists) -> None:
    # Arrange
    await watchlists.create("alice", "one", [])

    # Act / Assert
    with pytest.raises(AlreadyExistsError):
        await watchlists.create("alice", "one", ["AAPL"])


async def test_update_checks_the_changed_fields_only(watchlists: Watchlists) -> None:
    # Arrange
    created = await watchlists.create("alice", "Tech", ["AAPL"])

    # Act
    renamed = await watchlists.update("alice", created.watchlist_id, name="Big tech")
    fields = await _fields(watchlists.update("alice", created.watchlist_id, symbols=["AAPL", "AAPL"]))

    # Assert
    assert renamed.symbols == ("AAPL",)
    assert fields == ["watchlist.symbols[1]"]


@pytest.mark.parametrize(
    ("watchlist_id", "error"),
    [("not-an-id", NotFoundError), ("00000000-0000-4000-8000-000000000000", InvalidRequestError)],
)
async def test_update_of_a_malformed_id_is_not_found_before_the_changes_are_checked(
    watchlists: Watchlists, watchlist_id: str, error: type[Exception]
) -> None:
    # Act / Assert: a well-formed id is looked up only after the changes pass
    with pytest.raises(error):
        await watchlists.update("alice", watchlist_id, name="")


async def test_other_users_watchlist_is_not_found(watchlists: Watchlists) -> None:
    # Arrange
    alices = await watchlists.create("alice", "Tech", ["AAPL"])

    # Act / Assert
    with pytest.raises(NotFoundError):
        await watchlists.get("bob", alices.watchlist_id)
    with pytest.raises(NotFoundError):
        await watchlists.update("bob", alices.watchlist_id, name="Mine")
    with pytest.raises(NotFoundError):
        await watchlists.delete("bob", alices.watchlist_id)
    assert await watchlists.list("alice") == (alices,)
