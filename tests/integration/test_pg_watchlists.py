"""PgWatchlistStore on a real PostgreSQL: its contract, and the watchlist rules over it.

The module's tests run `Watchlists` (names, limits, validation) over PgWatchlistStore and the packaged
symbols; `TestPgWatchlistStore` runs the store's contract.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from watchlist_store_contract import WatchlistStoreContract

from tickstock_server.domain.universes import WatchlistLimits
from tickstock_server.errors import AlreadyExistsError, InvalidRequestError, LimitExceededError, NotFoundError
from tickstock_server.storage.migrate import apply_migrations
from tickstock_server.storage.seed import load_seed_data
from tickstock_server.storage.universes import PgUniverseStore
from tickstock_server.storage.watchlists import PgWatchlistStore
from tickstock_server.universes.service import Watchlists

_LIMITS = WatchlistLimits(max_watchlists_per_user=3, max_symbols_per_watchlist=5)


@pytest.fixture
async def watchlists(pg_pool: asyncpg.Pool) -> AsyncIterator[Watchlists]:
    await apply_migrations(pg_pool)
    await load_seed_data(pg_pool)
    yield Watchlists(PgWatchlistStore(pg_pool), symbols=PgUniverseStore(pg_pool), limits=_LIMITS)


class TestPgWatchlistStore(WatchlistStoreContract):
    @pytest.fixture
    async def store(self, pg_pool: asyncpg.Pool) -> PgWatchlistStore:
        await apply_migrations(pg_pool)
        return PgWatchlistStore(pg_pool)


# --- create, get, list, update, delete ----------------------------------------------------------------


async def test_create_returns_stored_watchlist_in_user_order(watchlists: Watchlists) -> None:
    # Act
    created = await watchlists.create("alice", "Tech", ["MSFT", "AAPL", "BRK.B"])

    # Assert
    assert uuid.UUID(created.watchlist_id)
    assert created.user == "alice"
    assert created.name == "Tech"
    assert created.symbols == ("MSFT", "AAPL", "BRK.B")
    assert created.create_ns == created.update_ns
    assert created.create_ns % 1_000 == 0  # PostgreSQL keeps microseconds
    assert await watchlists.get("alice", created.watchlist_id) == created


async def test_create_empty_watchlist_is_allowed(watchlists: Watchlists) -> None:
    # Act
    created = await watchlists.create("alice", "Later", [])

    # Assert
    assert created.symbols == ()


async def test_list_returns_own_watchlists_sorted_by_name(watchlists: Watchlists) -> None:
    # Arrange
    await watchlists.create("alice", "b", ["AAPL"])
    await watchlists.create("alice", "B", ["MSFT"])
    await watchlists.create("alice", "a", ["NVDA"])
    await watchlists.create("bob", "bob's", ["TSLA"])

    # Act
    listed = await watchlists.list("alice")

    # Assert: byte order, so upper case first
    assert [watchlist.name for watchlist in listed] == ["B", "a", "b"]
    assert {watchlist.user for watchlist in listed} == {"alice"}


async def test_update_name_only_keeps_symbols(watchlists: Watchlists) -> None:
    # Arrange
    created = await watchlists.create("alice", "Tech", ["AAPL", "MSFT"])

    # Act
    updated = await watchlists.update("alice", created.watchlist_id, name="Big tech")

    # Assert
    assert updated.name == "Big tech"
    assert updated.symbols == ("AAPL", "MSFT")
    assert updated.create_ns == created.create_ns
    assert updated.update_ns >= created.update_ns
    assert await watchlists.get("alice", created.watchlist_id) == updated


async def test_update_symbols_only_keeps_name(watchlists: Watchlists) -> None:
    # Arrange
    created = await watchlists.create("alice", "Tech", ["AAPL", "MSFT"])

    # Act
    updated = await watchlists.update("alice", created.watchlist_id, symbols=["NVDA"])

    # Assert
    assert updated.name == "Tech"
    assert updated.symbols == ("NVDA",)


async def test_update_to_own_name_is_allowed(watchlists: Watchlists) -> None:
    # Arrange
    created = await watchlists.create("alice", "Tech", ["AAPL"])

    # Act
    updated = await watchlists.update("alice", created.watchlist_id, name="Tech", symbols=["MSFT"])

    # Assert
    assert (updated.name, updated.symbols) == ("Tech", ("MSFT",))


async def test_delete_removes_watchlist(watchlists: Watchlists) -> None:
    # Arrange
    created = await watchlists.create("alice", "Tech", ["AAPL"])

    # Act
    await watchlists.delete("alice", created.watchlist_id)

    # Assert
    with pytest.raises(NotFoundError):
        await watchlists.get("alice", created.watchlist_id)
    with pytest.raises(NotFoundError):
        await watchlists.delete("alice", created.watchlist_id)
    assert await watchlists.list("alice") == ()


# --- isolation ----------------------------------------------------------------------------------------


async def test_other_users_watchlist_is_not_found_for_every_operation(watchlists: Watchlists) -> None:
    # Arrange
    alices = await watchlists.create("alice", "Tech", ["AAPL"])

    # Act / Assert
    with pytest.raises(NotFoundError):
        await watchlists.get("bob", alices.watchlist_id)
    with pytest.raises(NotFoundError):
        await watchlists.update("bob", alices.watchlist_id, name="Stolen", symbols=["TSLA"])
    with pytest.raises(NotFoundError):
        await watchlists.delete("bob", alices.watchlist_id)
    assert await watchlists.list("bob") == ()
    assert await watchlists.get("alice", alices.watchlist_id) == alices


async def test_same_name_for_two_users_is_allowed(watchlists: Watchlists) -> None:
    # Act
    alices = await watchlists.create("alice", "Tech", ["AAPL"])
    bobs = await watchlists.create("bob", "Tech", ["MSFT"])

    # Assert
    assert alices.watchlist_id != bobs.watchlist_id


@pytest.mark.parametrize("watchlist_id", ["", "not-a-uuid", "1234"])
async def test_malformed_id_raises_not_found(watchlists: Watchlists, watchlist_id: str) -> None:
    # Act / Assert
    with pytest.raises(NotFoundError):
        await watchlists.get("alice", watchlist_id)


async def test_unknown_id_raises_not_found(watchlists: Watchlists) -> None:
    # Act / Assert
    with pytest.raises(NotFoundError):
        await watchlists.update("alice", str(uuid.uuid4()), name="x")


@pytest.mark.parametrize(
    ("watchlist_id", "error"),
    [("not-a-uuid", NotFoundError), ("6f1c2d9e-0000-4000-8000-000000000000", LimitExceededError)],
)
async def test_update_checks_id_form_before_changes_and_existence_after(
    watchlists: Watchlists, watchlist_id: str, error: type[Exception]
) -> None:
    # Act / Assert: a malformed id is not looked at further; a well-formed one only after the changes
    with pytest.raises(error):
        await watchlists.update("alice", watchlist_id, name="", symbols=["AAPL"] * 6)


# --- names --------------------------------------------------------------------------------------------


async def test_duplicate_name_on_create_raises_already_exists(watchlists: Watchlists) -> None:
    # Arrange
    await watchlists.create("alice", "Tech", ["AAPL"])

    # Act / Assert
    with pytest.raises(AlreadyExistsError):
        await watchlists.create("alice", "Tech", ["MSFT"])
    assert len(await watchlists.list("alice")) == 1


async def test_rename_to_taken_name_raises_already_exists(watchlists: Watchlists) -> None:
    # Arrange
    await watchlists.create("alice", "Tech", ["AAPL"])
    energy = await watchlists.create("alice", "Energy", ["XOM"])

    # Act / Assert
    with pytest.raises(AlreadyExistsError):
        await watchlists.update("alice", energy.watchlist_id, name="Tech")
    assert (await watchlists.get("alice", energy.watchlist_id)).name == "Energy"


# --- limits -------------------------------------------------------------------------------------------


async def test_watchlist_beyond_per_user_limit_raises_limit_exceeded(watchlists: Watchlists) -> None:
    # Arrange: the limit is 3
    for name in ("one", "two", "three"):
        await watchlists.create("alice", name, [])

    # Act / Assert
    with pytest.raises(LimitExceededError):
        await watchlists.create("alice", "four", [])
    assert len(await watchlists.list("alice")) == 3


async def test_per_user_limit_counts_only_that_users_watchlists(watchlists: Watchlists) -> None:
    # Arrange
    for name in ("one", "two", "three"):
        await watchlists.create("alice", name, [])

    # Act
    bobs = await watchlists.create("bob", "one", [])

    # Assert
    assert bobs.user == "bob"


async def test_concurrent_creates_never_exceed_per_user_limit(watchlists: Watchlists) -> None:
    # Act: six creates at once against a limit of 3
    results = await asyncio.gather(
        *(watchlists.create("alice", f"list {index}", []) for index in range(6)), return_exceptions=True
    )

    # Assert
    assert sum(not isinstance(result, BaseException) for result in results) == 3
    assert all(
        isinstance(result, LimitExceededError) for result in results if isinstance(result, BaseException)
    )
    assert len(await watchlists.list("alice")) == 3


async def test_too_many_symbols_raises_limit_exceeded(watchlists: Watchlists) -> None:
    # Arrange: the limit is 5
    six = ["AAPL", "MSFT", "NVDA", "AMZN", "META", "TSLA"]
    created = await watchlists.create("alice", "Five", six[:5])

    # Act / Assert
    with pytest.raises(LimitExceededError):
        await watchlists.create("alice", "Six", six)
    with pytest.raises(LimitExceededError):
        await watchlists.update("alice", created.watchlist_id, symbols=six)


# --- validation ---------------------------------------------------------------------------------------


async def test_unknown_and_malformed_symbols_raise_field_violations(watchlists: Watchlists) -> None:
    # Act / Assert: index 1 is unknown, 2 malformed; malformed tickers are reported before existence
    with pytest.raises(InvalidRequestError) as caught:
        await watchlists.create("alice", "", ["AAPL", "ZZZZZ", "aapl"])
    assert [violation.field for violation in caught.value.violations] == [
        "watchlist.name",
        "watchlist.symbols[2]",
    ]
    assert await watchlists.list("alice") == ()


async def test_unknown_symbols_raise_violation_per_index(watchlists: Watchlists) -> None:
    # Act / Assert
    with pytest.raises(InvalidRequestError) as caught:
        await watchlists.create("alice", "Tech", ["ZZZZZ", "AAPL", "QQQQQ"])
    assert [violation.field for violation in caught.value.violations] == [
        "watchlist.symbols[0]",
        "watchlist.symbols[2]",
    ]
    assert "ZZZZZ" in caught.value.violations[0].description


async def test_repeated_symbol_on_update_raises_invalid_request(watchlists: Watchlists) -> None:
    # Arrange
    created = await watchlists.create("alice", "Tech", ["AAPL"])

    # Act / Assert
    with pytest.raises(InvalidRequestError) as caught:
        await watchlists.update("alice", created.watchlist_id, symbols=["AAPL", "MSFT", "AAPL"])
    assert [violation.field for violation in caught.value.violations] == ["watchlist.symbols[2]"]
    assert (await watchlists.get("alice", created.watchlist_id)).symbols == ("AAPL",)
