"""The behaviour every WatchlistStore must have, run against each implementation (memory and PostgreSQL).

Subclasses provide an empty `store` fixture; pytest collects the inherited tests for each of them. The
store checks nothing (the watchlist rules do), so every name and ticker here is a valid one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest

from tickstock_server.domain.universes import Watchlist
from tickstock_server.errors import AlreadyExistsError, NotFoundError
from tickstock_server.ports.universes import WatchlistStore

_MOST = 100
"""A per-user limit the tests do not reach."""

Operation = Callable[[WatchlistStore, str, str], Awaitable[object]]
"""A call on one watchlist: (store, user, watchlist_id)."""

_OPERATIONS: dict[str, Operation] = {
    "get": lambda store, user, watchlist_id: store.get(user, watchlist_id),
    "update": lambda store, user, watchlist_id: store.update(
        user, watchlist_id, name="Stolen", symbols=["X"]
    ),
    "delete": lambda store, user, watchlist_id: store.delete(user, watchlist_id),
}


async def _create(store: WatchlistStore, user: str, name: str, symbols: tuple[str, ...] = ()) -> Watchlist:
    created = await store.create(user, name, symbols, max_per_user=_MOST)
    assert created is not None
    return created


class WatchlistStoreContract:
    """Tests of the WatchlistStore port."""

    async def test_create_returns_the_stored_watchlist_in_user_order(self, store: WatchlistStore) -> None:
        # Act
        created = await store.create("alice", "Tech", ["MSFT", "AAPL", "BRK.B"], max_per_user=_MOST)

        # Assert
        assert created is not None
        assert (created.user, created.name, created.symbols) == ("alice", "Tech", ("MSFT", "AAPL", "BRK.B"))
        assert created.create_ns == created.update_ns
        assert store.is_watchlist_id(created.watchlist_id)
        assert await store.get("alice", created.watchlist_id) == created

    async def test_create_at_the_per_user_limit_returns_none_and_stores_nothing(
        self, store: WatchlistStore
    ) -> None:
        # Arrange
        for name in ("one", "two"):
            await store.create("alice", name, [], max_per_user=2)

        # Act
        refused = await store.create("alice", "three", [], max_per_user=2)
        bobs = await store.create("bob", "three", [], max_per_user=2)

        # Assert
        assert refused is None
        assert [watchlist.name for watchlist in await store.list("alice")] == ["one", "two"]
        assert bobs is not None

    async def test_concurrent_creates_never_exceed_the_per_user_limit(self, store: WatchlistStore) -> None:
        # Act: six creates at once against a limit of 3
        results = await asyncio.gather(
            *(store.create("alice", f"list {index}", [], max_per_user=3) for index in range(6))
        )

        # Assert
        assert sum(result is not None for result in results) == 3
        assert len(await store.list("alice")) == 3

    async def test_a_taken_name_raises_already_exists_for_its_owner_only(self, store: WatchlistStore) -> None:
        # Arrange
        await _create(store, "alice", "Tech", ("AAPL",))

        # Act
        with pytest.raises(AlreadyExistsError, match="a watchlist named 'Tech' already exists"):
            await store.create("alice", "Tech", ["MSFT"], max_per_user=_MOST)
        bobs = await _create(store, "bob", "Tech", ("MSFT",))

        # Assert
        assert len(await store.list("alice")) == 1
        assert bobs.name == "Tech"

    async def test_list_returns_own_watchlists_sorted_bytewise_by_name(self, store: WatchlistStore) -> None:
        # Arrange
        for user, name in (("alice", "b"), ("alice", "B"), ("alice", "a"), ("bob", "0"), ("alice", "é")):
            await _create(store, user, name)

        # Act
        listed = await store.list("alice")

        # Assert
        assert [watchlist.name for watchlist in listed] == ["B", "a", "b", "é"]
        assert {watchlist.user for watchlist in listed} == {"alice"}
        assert await store.list("carol") == ()

    @pytest.mark.parametrize(
        ("changes", "expected"),
        [
            ({"name": "Big tech"}, ("Big tech", ("AAPL", "MSFT"))),
            ({"symbols": ["NVDA"]}, ("Tech", ("NVDA",))),
            ({"name": "Tech", "symbols": []}, ("Tech", ())),
            ({}, ("Tech", ("AAPL", "MSFT"))),
        ],
    )
    async def test_update_replaces_the_given_fields_only(
        self, store: WatchlistStore, changes: dict[str, object], expected: tuple[str, tuple[str, ...]]
    ) -> None:
        # Arrange
        created = await _create(store, "alice", "Tech", ("AAPL", "MSFT"))

        # Act
        updated = await store.update("alice", created.watchlist_id, **changes)  # type: ignore[arg-type]

        # Assert
        assert (updated.name, updated.symbols) == expected
        assert (updated.watchlist_id, updated.create_ns) == (created.watchlist_id, created.create_ns)
        assert updated.update_ns >= created.update_ns
        assert await store.get("alice", created.watchlist_id) == updated

    async def test_rename_to_a_taken_name_raises_already_exists(self, store: WatchlistStore) -> None:
        # Arrange
        await _create(store, "alice", "Tech")
        energy = await _create(store, "alice", "Energy", ("XOM",))

        # Act / Assert
        with pytest.raises(AlreadyExistsError):
            await store.update("alice", energy.watchlist_id, name="Tech")
        assert await store.get("alice", energy.watchlist_id) == energy

    async def test_delete_removes_the_watchlist(self, store: WatchlistStore) -> None:
        # Arrange
        created = await _create(store, "alice", "Tech")

        # Act
        await store.delete("alice", created.watchlist_id)

        # Assert
        with pytest.raises(NotFoundError):
            await store.get("alice", created.watchlist_id)
        with pytest.raises(NotFoundError):
            await store.delete("alice", created.watchlist_id)
        assert await store.list("alice") == ()

    @pytest.mark.parametrize("operation", sorted(_OPERATIONS))
    async def test_another_users_watchlist_is_not_found(self, store: WatchlistStore, operation: str) -> None:
        # Arrange
        alices = await _create(store, "alice", "Tech", ("AAPL",))

        # Act / Assert
        with pytest.raises(NotFoundError, match=f"no watchlist '{alices.watchlist_id}'"):
            await _OPERATIONS[operation](store, "bob", alices.watchlist_id)
        assert await store.get("alice", alices.watchlist_id) == alices

    @pytest.mark.parametrize("operation", sorted(_OPERATIONS))
    @pytest.mark.parametrize("watchlist_id", ["", "not-a-uuid", str(uuid.UUID(int=7))])
    async def test_unknown_or_malformed_id_is_not_found(
        self, store: WatchlistStore, operation: str, watchlist_id: str
    ) -> None:
        # Act / Assert
        with pytest.raises(NotFoundError, match="no watchlist"):
            await _OPERATIONS[operation](store, "alice", watchlist_id)
