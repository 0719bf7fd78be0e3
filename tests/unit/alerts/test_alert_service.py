"""AlertService: validation, universe checks, the per-user limit, and keeping the router in step."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alert_fixtures import NOW_NS, make_pattern, quiet

from tickstock_server.adapters.memory.alerts import MemoryAlertStore
from tickstock_server.adapters.memory.universes import MemoryUniverses
from tickstock_server.alerts.router import AlertRouter
from tickstock_server.alerts.service import AlertService
from tickstock_server.domain.alerts import AlertLimits, AlertSubscription, QuietHours, TimeOfDay
from tickstock_server.errors import InvalidRequestError, LimitExceededError, NotFoundError

UNIVERSES = {"sp500": ("AAPL", "MSFT"), "dow30": ("IBM",)}


class Service:
    """An AlertService over fakes, and the fakes."""

    def __init__(self, limit: int = 3) -> None:
        universes = MemoryUniverses(UNIVERSES)
        self.store = MemoryAlertStore(clock_ns=lambda: NOW_NS)
        self.router = AlertRouter(resolver=universes.resolve)
        self.alerts = AlertService(
            store=self.store,
            universes=universes,
            router=self.router,
            limits=AlertLimits(max_subscriptions_per_user=limit),
        )


def request(user: str = "alice", **overrides: Any) -> AlertSubscription:
    """A subscription as a client asks for it: no id, no creation time."""
    return AlertSubscription(subscription_id="", user=user, **overrides)


# --- validation ---------------------------------------------------------------------------------------


async def test_invalid_subscription_raises_with_every_bad_field() -> None:
    # Arrange
    service = Service()
    asked = request(
        symbols=("AAPL", "MSFT", "not a ticker"),
        min_confidence=70.0,
        quiet_hours=QuietHours(start=TimeOfDay(hours=25, minutes=0), end=TimeOfDay(hours=7, minutes=0)),
        time_zone="Europe/Atlantis",
        max_alerts_per_hour=5000,
    )

    # Act
    with pytest.raises(InvalidRequestError) as caught:
        await service.alerts.create(asked)

    # Assert
    assert [violation.field for violation in caught.value.violations] == [
        "subscription.symbols[2]",
        "subscription.min_confidence",
        "subscription.quiet_hours.start.hours",
        "subscription.time_zone",
        "subscription.max_alerts_per_hour",
    ]
    assert await service.store.list("alice") == ()


@pytest.mark.parametrize(
    ("universes", "expected"),
    [
        (
            ("sp500", "no_such_universe", "dow30"),
            [("subscription.universes[1]", "unknown universe 'no_such_universe'")],
        ),
        (
            ("gone", "sp500", "missing"),
            [
                ("subscription.universes[0]", "unknown universe 'gone'"),
                ("subscription.universes[2]", "unknown universe 'missing'"),
            ],
        ),
    ],
)
async def test_unknown_universe_is_a_violation_of_its_index(
    universes: tuple[str, ...], expected: list[tuple[str, str]]
) -> None:
    # Arrange
    service = Service()

    # Act
    with pytest.raises(InvalidRequestError) as caught:
        await service.alerts.create(request(universes=universes))

    # Assert
    assert [(violation.field, violation.description) for violation in caught.value.violations] == expected
    assert await service.store.list("alice") == ()


async def test_universe_name_of_bad_syntax_is_reported_without_asking_which_exist() -> None:
    # Arrange
    service = Service()

    # Act
    with pytest.raises(InvalidRequestError) as caught:
        await service.alerts.create(request(universes=("Not Valid", "no_such_universe")))

    # Assert
    assert [violation.field for violation in caught.value.violations] == ["subscription.universes[0]"]


async def test_valid_subscription_is_stored_with_id_and_creation_time() -> None:
    # Arrange
    service = Service()
    asked = request(universes=("sp500",), quiet_hours=quiet("22:00", "07:00"), time_zone="America/New_York")

    # Act
    created = await service.alerts.create(asked)

    # Assert
    assert created.subscription_id.startswith("alrt_")
    assert created.create_ns == NOW_NS
    assert await service.alerts.list("alice") == (created,)


# --- the per-user limit -------------------------------------------------------------------------------


async def test_create_beyond_per_user_limit_raises_limit_exceeded() -> None:
    # Arrange
    service = Service(limit=3)
    for _ in range(3):
        await service.alerts.create(request())

    # Act / Assert
    with pytest.raises(LimitExceededError, match="a user may have at most 3 alert subscriptions"):
        await service.alerts.create(request())
    assert len(await service.alerts.list("alice")) == 3
    assert (await service.alerts.create(request("bob"))).user == "bob"  # the limit is per user


async def test_concurrent_creates_never_exceed_per_user_limit() -> None:
    # Arrange
    service = Service(limit=3)

    # Act
    results = await asyncio.gather(
        *(service.alerts.create(request()) for _ in range(6)), return_exceptions=True
    )

    # Assert
    assert sum(isinstance(result, AlertSubscription) for result in results) == 3
    assert sum(isinstance(result, LimitExceededError) for result in results) == 3
    assert len(await service.alerts.list("alice")) == 3


async def test_refused_create_activates_nothing() -> None:
    # Arrange
    service = Service(limit=1)
    await service.alerts.create(request())

    # Act
    with pytest.raises(LimitExceededError):
        await service.alerts.create(request(symbols=("AAPL",)))

    # Assert
    assert service.router.subscription_count == 1


# --- the router ---------------------------------------------------------------------------------------


async def test_created_subscription_routes_patterns_of_its_universes() -> None:
    # Arrange
    service = Service()
    await service.alerts.create(request(universes=("sp500",)))

    # Act
    with service.router.open_stream("alice"):
        member = service.router.route(make_pattern("MSFT"), NOW_NS)
        outsider = service.router.route(make_pattern("IBM"), NOW_NS)

    # Assert
    assert (member, outsider) == (1, 0)


async def test_deleted_subscription_stops_routing() -> None:
    # Arrange
    service = Service()
    created = await service.alerts.create(request())

    # Act
    await service.alerts.delete("alice", created.subscription_id)

    # Assert
    assert service.router.subscription_count == 0
    assert await service.alerts.list("alice") == ()


async def test_deleting_another_users_subscription_is_not_found_and_keeps_it_active() -> None:
    # Arrange
    service = Service()
    bobs = await service.alerts.create(request("bob"))

    # Act
    with pytest.raises(NotFoundError):
        await service.alerts.delete("alice", bobs.subscription_id)

    # Assert
    assert service.router.subscription_count == 1
    assert await service.alerts.list("bob") == (bobs,)
