"""PgFilterPresetStore against real PostgreSQL: round trip, replace, per-user isolation and limit."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tickstock_server.domain.events import Direction, EventType, TrendStrength
from tickstock_server.domain.filter_spec import FilterSpec
from tickstock_server.errors import LimitExceededError, NotFoundError
from tickstock_server.storage.filter_presets import PgFilterPresetStore
from tickstock_server.storage.migrate import apply_migrations

SPEC = FilterSpec(
    symbols=("AAPL",),
    universes=("sp500:nasdaq100",),
    watchlist_ids=("3f2c",),
    event_types=(EventType.TREND, EventType.HIGH),
    directions=(Direction.UP,),
    min_trend_strength=TrendStrength.MODERATE,
    min_price=1.5,
    max_volume=10_000,
)


@pytest.fixture
async def store(pg_pool: asyncpg.Pool) -> PgFilterPresetStore:
    await apply_migrations(pg_pool)
    return PgFilterPresetStore(pg_pool, max_per_user=2)


async def test_saved_spec_reads_back_equal(store: PgFilterPresetStore) -> None:
    saved = await store.save("alice", "momentum", SPEC)

    assert saved.spec == SPEC
    assert (await store.get("alice", "momentum")) == saved
    assert [p.name for p in await store.list("alice")] == ["momentum"]


async def test_save_replaces_and_delete_removes(store: PgFilterPresetStore) -> None:
    await store.save("alice", "p", SPEC)
    await store.save("alice", "p", FilterSpec(symbols=("MSFT",)))

    assert (await store.get("alice", "p")).spec == FilterSpec(symbols=("MSFT",))
    await store.delete("alice", "p")
    with pytest.raises(NotFoundError):
        await store.delete("alice", "p")


async def test_presets_are_per_user(store: PgFilterPresetStore) -> None:
    await store.save("alice", "p", SPEC)

    assert await store.list("bob") == ()
    with pytest.raises(NotFoundError):
        await store.get("bob", "p")


async def test_concurrent_saves_cannot_exceed_the_limit(store: PgFilterPresetStore) -> None:
    results = await asyncio.gather(
        *(store.save("alice", f"p{i}", SPEC) for i in range(5)), return_exceptions=True
    )

    assert sum(isinstance(r, LimitExceededError) for r in results) == 3
    assert len(await store.list("alice")) == 2
