"""PgAlertStore on a real PostgreSQL: the AlertStore contract, and the alert service and router over it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from alert_store_contract import AlertStoreContract, request

from tickstock_server.alerts.router import AlertRouter
from tickstock_server.alerts.service import AlertService
from tickstock_server.domain.alerts import AlertLimits, AlertSubscription
from tickstock_server.domain.patterns import Pattern, PatternSource
from tickstock_server.errors import DependencyUnavailableError, InvalidRequestError, LimitExceededError
from tickstock_server.storage.alerts import PgAlertStore
from tickstock_server.storage.database import create_pool
from tickstock_server.storage.migrate import apply_migrations
from tickstock_server.storage.seed import load_seed_data
from tickstock_server.storage.universes import PgUniverseStore
from tickstock_server.universes.service import UniverseCatalog

_LIMITS = AlertLimits(max_subscriptions_per_user=3)


@pytest.fixture
async def pg_store(pg_pool: asyncpg.Pool) -> AsyncIterator[PgAlertStore]:
    await apply_migrations(pg_pool)
    await load_seed_data(pg_pool)
    yield PgAlertStore(pg_pool)


class TestPgAlertStore(AlertStoreContract):
    @pytest.fixture
    def store(self, pg_store: PgAlertStore) -> PgAlertStore:
        return pg_store


@pytest.fixture
def service(pg_store: PgAlertStore, pg_pool: asyncpg.Pool) -> AlertService:
    universes = UniverseCatalog(PgUniverseStore(pg_pool))
    return AlertService(
        store=pg_store, universes=universes, router=AlertRouter(resolver=universes.resolve), limits=_LIMITS
    )


async def test_closed_pool_raises_dependency_unavailable(pg_database_url: str) -> None:
    # Arrange
    pool = await create_pool(pg_database_url, min_size=1, max_size=1)
    await apply_migrations(pool)
    store = PgAlertStore(pool)
    await pool.close()

    # Act / Assert
    with pytest.raises(DependencyUnavailableError):
        await store.list("alice")


# --- the alert service over PostgreSQL ----------------------------------------------------------------


async def test_unknown_universe_is_a_violation_of_its_index(
    service: AlertService, pg_store: PgAlertStore
) -> None:
    # Act
    with pytest.raises(InvalidRequestError) as caught:
        await service.create(request(universes=("sp500", "no_such_universe", "dow30")))

    # Assert
    assert [(violation.field, violation.description) for violation in caught.value.violations] == [
        ("subscription.universes[1]", "unknown universe 'no_such_universe'")
    ]
    assert await pg_store.list("alice") == ()


async def test_concurrent_creates_never_exceed_per_user_limit(
    service: AlertService, pg_store: PgAlertStore
) -> None:
    # Act
    results = await asyncio.gather(*(service.create(request()) for _ in range(6)), return_exceptions=True)

    # Assert
    assert sum(isinstance(result, AlertSubscription) for result in results) == 3
    assert sum(isinstance(result, LimitExceededError) for result in results) == 3
    assert len(await pg_store.list("alice")) == 3


# --- with the router ----------------------------------------------------------------------------------


async def test_router_loads_stored_subscriptions_with_universes_resolved_by_universe_store(
    pg_store: PgAlertStore, pg_pool: asyncpg.Pool
) -> None:
    # Arrange
    universes = UniverseCatalog(PgUniverseStore(pg_pool))
    dow30 = await universes.resolve(["dow30"])
    member = sorted(dow30)[0]
    outsider = next(symbol for symbol in ("TSLA", "NVDA", "AMZN") if symbol not in dow30)
    created = await pg_store.create_within_limit(request(universes=("dow30",)), max_per_user=3)
    assert created is not None
    router = AlertRouter(resolver=universes.resolve)

    # Act
    await router.load(await pg_store.all_subscriptions())

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
