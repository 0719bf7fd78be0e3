"""PgAlertStore on a real PostgreSQL: create, list, delete, per-user isolation and limit, validation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from tickstock_server.alerts.router import AlertRouter
from tickstock_server.domain.alerts import AlertLimits, AlertSubscription, QuietHours, TimeOfDay
from tickstock_server.domain.patterns import Pattern, PatternSource
from tickstock_server.errors import InvalidRequestError, LimitExceededError, NotFoundError
from tickstock_server.storage.alerts import PgAlertStore
from tickstock_server.storage.migrate import apply_migrations
from tickstock_server.storage.seed import load_seed_data
from tickstock_server.storage.universes import PgUniverseStore
from tickstock_server.universes.service import UniverseCatalog

_LIMITS = AlertLimits(max_subscriptions_per_user=3)


@pytest.fixture
async def store(pg_pool: asyncpg.Pool) -> AsyncIterator[PgAlertStore]:
    await apply_migrations(pg_pool)
    await load_seed_data(pg_pool)
    yield PgAlertStore(pg_pool, _LIMITS)


def request(user: str = "alice", **overrides: Any) -> AlertSubscription:
    """A subscription as a client asks for it: no id, no creation time."""
    return AlertSubscription(subscription_id="", user=user, **overrides)


# --- create, list, get, delete ------------------------------------------------------------------------


async def test_create_returns_stored_subscription_with_assigned_id(store: PgAlertStore) -> None:
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
    created = await store.create(asked)

    # Assert: everything as asked, in the user's order, plus an id and a creation time
    assert created.subscription_id.startswith("alrt_")
    assert len(created.subscription_id) == len("alrt_") + 16
    assert created.create_ns > 0
    assert created.create_ns % 1_000 == 0  # PostgreSQL keeps microseconds
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


async def test_create_with_defaults_stores_no_quiet_hours_and_utc(store: PgAlertStore) -> None:
    # Act
    created = await store.create(request())

    # Assert
    assert (created.pattern_types, created.symbols, created.universes) == ((), (), ())
    assert created.quiet_hours is None
    assert (created.time_zone, created.max_alerts_per_hour, created.min_confidence) == ("UTC", 50, 0.0)


async def test_create_ignores_requested_id_and_assigns_distinct_ones(store: PgAlertStore) -> None:
    # Act
    first = await store.create(AlertSubscription(subscription_id="alrt_mine", user="alice", create_ns=5))
    second = await store.create(request())

    # Assert
    assert first.subscription_id not in ("alrt_mine", second.subscription_id)
    assert first.create_ns != 5


async def test_list_returns_own_subscriptions_oldest_first(store: PgAlertStore) -> None:
    # Arrange
    first = await store.create(request(symbols=("AAPL",)))
    await store.create(request("bob", symbols=("TSLA",)))
    second = await store.create(request(symbols=("MSFT",)))
    third = await store.create(request(symbols=("NVDA",)))

    # Act
    listed = await store.list("alice")

    # Assert
    assert listed == (first, second, third)
    assert await store.list("carol") == ()


async def test_all_subscriptions_returns_every_users_oldest_first(store: PgAlertStore) -> None:
    # Arrange
    created = [
        await store.create(request("alice")),
        await store.create(request("bob")),
        await store.create(request("alice")),
    ]

    # Act / Assert
    assert await store.all_subscriptions() == tuple(created)


async def test_delete_removes_subscription(store: PgAlertStore) -> None:
    # Arrange
    kept = await store.create(request(symbols=("AAPL",)))
    deleted = await store.create(request(symbols=("MSFT",)))

    # Act
    await store.delete("alice", deleted.subscription_id)

    # Assert
    assert await store.list("alice") == (kept,)
    with pytest.raises(NotFoundError):
        await store.get("alice", deleted.subscription_id)
    with pytest.raises(NotFoundError):
        await store.delete("alice", deleted.subscription_id)


# --- isolation ----------------------------------------------------------------------------------------


async def test_another_users_subscription_is_not_found(store: PgAlertStore) -> None:
    # Arrange
    bobs = await store.create(request("bob"))

    # Act / Assert
    with pytest.raises(NotFoundError):
        await store.get("alice", bobs.subscription_id)
    with pytest.raises(NotFoundError):
        await store.delete("alice", bobs.subscription_id)
    assert await store.list("bob") == (bobs,)


@pytest.mark.parametrize(
    "subscription_id", ["", "alrt_", "alrt_x", "watchlist", "alrt_" + "A" * 17, "' OR 1=1 --"]
)
async def test_malformed_id_is_not_found(store: PgAlertStore, subscription_id: str) -> None:
    # Act / Assert
    with pytest.raises(NotFoundError):
        await store.delete("alice", subscription_id)
    with pytest.raises(NotFoundError):
        await store.get("alice", subscription_id)


# --- limits and validation ----------------------------------------------------------------------------


async def test_create_beyond_per_user_limit_raises_limit_exceeded(store: PgAlertStore) -> None:
    # Arrange
    for _ in range(3):
        await store.create(request())

    # Act / Assert
    with pytest.raises(LimitExceededError, match="at most 3"):
        await store.create(request())
    assert len(await store.list("alice")) == 3
    await store.create(request("bob"))  # the limit is per user


async def test_concurrent_creates_never_exceed_per_user_limit(store: PgAlertStore) -> None:
    # Act
    results = await asyncio.gather(*(store.create(request()) for _ in range(6)), return_exceptions=True)

    # Assert
    assert sum(isinstance(result, AlertSubscription) for result in results) == 3
    assert sum(isinstance(result, LimitExceededError) for result in results) == 3
    assert len(await store.list("alice")) == 3


async def test_delete_frees_a_place_under_the_limit(store: PgAlertStore) -> None:
    # Arrange
    created = [await store.create(request()) for _ in range(3)]

    # Act
    await store.delete("alice", created[0].subscription_id)

    # Assert
    assert (await store.create(request())).user == "alice"


async def test_invalid_subscription_raises_with_every_bad_field(store: PgAlertStore) -> None:
    # Arrange
    asked = request(
        symbols=("AAPL", "MSFT", "not a ticker"),
        min_confidence=70.0,
        quiet_hours=QuietHours(start=TimeOfDay(hours=25, minutes=0), end=TimeOfDay(hours=7, minutes=0)),
        time_zone="Europe/Atlantis",
        max_alerts_per_hour=5000,
    )

    # Act
    with pytest.raises(InvalidRequestError) as caught:
        await store.create(asked)

    # Assert
    assert [violation.field for violation in caught.value.violations] == [
        "subscription.symbols[2]",
        "subscription.min_confidence",
        "subscription.quiet_hours.start.hours",
        "subscription.time_zone",
        "subscription.max_alerts_per_hour",
    ]
    assert await store.list("alice") == ()


async def test_unknown_universe_is_a_violation_of_its_index(store: PgAlertStore) -> None:
    # Act
    with pytest.raises(InvalidRequestError) as caught:
        await store.create(request(universes=("sp500", "no_such_universe", "dow30")))

    # Assert
    assert [(violation.field, violation.description) for violation in caught.value.violations] == [
        ("subscription.universes[1]", "unknown universe 'no_such_universe'")
    ]


# --- with the router ----------------------------------------------------------------------------------


async def test_router_loads_stored_subscriptions_with_universes_resolved_by_universe_store(
    store: PgAlertStore, pg_pool: asyncpg.Pool
) -> None:
    # Arrange
    universes = UniverseCatalog(PgUniverseStore(pg_pool))
    dow30 = await universes.resolve(["dow30"])
    member = sorted(dow30)[0]
    outsider = next(symbol for symbol in ("TSLA", "NVDA", "AMZN") if symbol not in dow30)
    created = await store.create(request(universes=("dow30",)))
    router = AlertRouter(resolver=universes.resolve)

    # Act
    await router.load(await store.all_subscriptions())

    # Assert
    def pattern(symbol: str) -> Pattern:
        return Pattern(
            pattern_id=symbol,
            symbol=symbol,
            pattern_type="Doji",
            confidence=0.9,
            price=None,
            price_change_pct=0.0,
            detected_ns=0,
            expires_ns=1,
            timeframe=None,
            source=PatternSource.PRODUCER,
        )

    with router.open_stream("alice"):
        assert router.route(pattern(member), created.create_ns) == 1
        assert router.route(pattern(outsider), created.create_ns) == 0
