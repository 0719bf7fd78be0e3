"""The behaviour every AlertStore must have, run against each implementation (memory and PostgreSQL).

Subclasses provide a `store` fixture; pytest collects the inherited tests for each of them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tickstock_server.domain.alerts import AlertSubscription, QuietHours, TimeOfDay
from tickstock_server.errors import NotFoundError
from tickstock_server.ports.alerts import AlertStore

LIMIT = 3
"""The per-user limit the tests pass to `create_within_limit`."""


def request(user: str = "alice", **overrides: Any) -> AlertSubscription:
    """A subscription as a client asks for it: no id, no creation time."""
    return AlertSubscription(subscription_id="", user=user, **overrides)


async def create(store: AlertStore, subscription: AlertSubscription) -> AlertSubscription:
    """Store `subscription` under `LIMIT`; fail the test if the store refuses it."""
    stored = await store.create_within_limit(subscription, max_per_user=LIMIT)
    assert stored is not None
    return stored


class AlertStoreContract:
    """Tests of the AlertStore port."""

    async def test_create_returns_stored_subscription_with_assigned_id(self, store: AlertStore) -> None:
        # Arrange
        asked = request(
            pattern_types=("Bull_Flag", "Doji"),
            symbols=("MSFT", "AAPL", "BRK.B"),
            universes=("dow30", "sp500"),
            min_confidence=0.7,
            quiet_hours=QuietHours(start=TimeOfDay(hours=22, minutes=30), end=TimeOfDay(hours=7, minutes=5)),
            time_zone="America/New_York",
            max_alerts_per_hour=20,
        )

        # Act
        created = await create(store, asked)

        # Assert: everything as asked, in the user's order, plus an id and a creation time
        assert created.subscription_id.startswith("alrt_")
        assert len(created.subscription_id) == len("alrt_") + 16
        assert created.create_ns > 0
        assert created.create_ns % 1_000 == 0  # microseconds, as PostgreSQL keeps them
        assert created == AlertSubscription(
            subscription_id=created.subscription_id,
            user="alice",
            pattern_types=("Bull_Flag", "Doji"),
            symbols=("MSFT", "AAPL", "BRK.B"),
            universes=("dow30", "sp500"),
            min_confidence=0.7,
            quiet_hours=QuietHours(start=TimeOfDay(hours=22, minutes=30), end=TimeOfDay(hours=7, minutes=5)),
            time_zone="America/New_York",
            max_alerts_per_hour=20,
            create_ns=created.create_ns,
        )
        assert await store.get("alice", created.subscription_id) == created

    async def test_create_with_defaults_stores_no_quiet_hours_and_utc(self, store: AlertStore) -> None:
        # Act
        created = await create(store, request())

        # Assert
        assert (created.pattern_types, created.symbols, created.universes) == ((), (), ())
        assert created.quiet_hours is None
        assert (created.time_zone, created.max_alerts_per_hour, created.min_confidence) == ("UTC", 50, 0.0)

    async def test_create_ignores_requested_id_and_assigns_distinct_ones(self, store: AlertStore) -> None:
        # Act
        first = await create(store, AlertSubscription(subscription_id="alrt_mine", user="alice", create_ns=5))
        second = await create(store, request())

        # Assert
        assert first.subscription_id not in ("alrt_mine", second.subscription_id)
        assert first.create_ns != 5

    async def test_list_returns_own_subscriptions_oldest_first(self, store: AlertStore) -> None:
        # Arrange
        first = await create(store, request(symbols=("AAPL",)))
        await create(store, request("bob", symbols=("TSLA",)))
        second = await create(store, request(symbols=("MSFT",)))
        third = await create(store, request(symbols=("NVDA",)))

        # Act
        listed = await store.list("alice")

        # Assert
        assert listed == (first, second, third)
        assert await store.list("carol") == ()

    async def test_all_subscriptions_returns_every_users_oldest_first(self, store: AlertStore) -> None:
        # Arrange
        created = [
            await create(store, request("alice")),
            await create(store, request("bob")),
            await create(store, request("alice")),
        ]

        # Act
        everything = await store.all_subscriptions()

        # Assert
        assert everything == tuple(created)

    async def test_delete_removes_subscription(self, store: AlertStore) -> None:
        # Arrange
        kept = await create(store, request(symbols=("AAPL",)))
        deleted = await create(store, request(symbols=("MSFT",)))

        # Act
        await store.delete("alice", deleted.subscription_id)

        # Assert
        assert await store.list("alice") == (kept,)
        with pytest.raises(NotFoundError):
            await store.get("alice", deleted.subscription_id)
        with pytest.raises(NotFoundError):
            await store.delete("alice", deleted.subscription_id)

    async def test_another_users_subscription_is_not_found(self, store: AlertStore) -> None:
        # Arrange
        bobs = await create(store, request("bob"))

        # Act / Assert
        with pytest.raises(NotFoundError, match="no alert subscription"):
            await store.get("alice", bobs.subscription_id)
        with pytest.raises(NotFoundError, match="no alert subscription"):
            await store.delete("alice", bobs.subscription_id)
        assert await store.list("bob") == (bobs,)

    @pytest.mark.parametrize(
        "subscription_id", ["", "alrt_", "alrt_x", "watchlist", "alrt_" + "A" * 17, "' OR 1=1 --"]
    )
    async def test_malformed_id_is_not_found(self, store: AlertStore, subscription_id: str) -> None:
        # Act / Assert
        with pytest.raises(NotFoundError):
            await store.delete("alice", subscription_id)
        with pytest.raises(NotFoundError):
            await store.get("alice", subscription_id)

    async def test_create_at_the_limit_returns_none_and_stores_nothing(self, store: AlertStore) -> None:
        # Arrange
        for _ in range(LIMIT):
            await create(store, request())

        # Act
        refused = await store.create_within_limit(request(), max_per_user=LIMIT)

        # Assert: the limit is per user
        assert refused is None
        assert len(await store.list("alice")) == LIMIT
        assert (await create(store, request("bob"))).user == "bob"

    async def test_concurrent_creates_never_exceed_the_limit(self, store: AlertStore) -> None:
        # Act
        results = await asyncio.gather(
            *(store.create_within_limit(request(), max_per_user=LIMIT) for _ in range(2 * LIMIT))
        )

        # Assert
        assert sum(result is not None for result in results) == LIMIT
        assert len(await store.list("alice")) == LIMIT

    async def test_delete_frees_a_place_under_the_limit(self, store: AlertStore) -> None:
        # Arrange
        created = [await create(store, request()) for _ in range(LIMIT)]

        # Act
        await store.delete("alice", created[0].subscription_id)

        # Assert
        assert (await create(store, request())).user == "alice"
