"""PgBacktestStore honours the BacktestStore contract on a real PostgreSQL; plus what only it does:
microsecond times, JSON-safe results, restarts and outages."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import replace
from types import MappingProxyType

import asyncpg
import pytest
from backtest_store_contract import T0_NS, BacktestStoreContract, make_backtest, make_report

from tickstock_server.domain.backtests import BacktestOutcome, BacktestResult, BacktestState
from tickstock_server.errors import DependencyUnavailableError
from tickstock_server.storage.backtests import PgBacktestStore
from tickstock_server.storage.database import create_pool
from tickstock_server.storage.migrate import apply_migrations

S = BacktestState


@pytest.fixture
async def pg_store(pg_pool: asyncpg.Pool) -> AsyncIterator[PgBacktestStore]:
    await apply_migrations(pg_pool)
    yield PgBacktestStore(pg_pool)


class TestPgBacktestStore(BacktestStoreContract):
    @pytest.fixture
    def store(self, pg_store: PgBacktestStore) -> PgBacktestStore:
        return pg_store


async def test_insert_then_get_returns_the_same_backtest_at_microseconds(pg_store: PgBacktestStore) -> None:
    # Arrange
    backtest = make_backtest(create_ns=T0_NS + 123_456, update_ns=T0_NS + 123_456)

    # Act
    stored = await pg_store.insert(backtest)

    # Assert: PostgreSQL keeps microseconds, everything else exactly
    assert stored == replace(backtest, create_ns=T0_NS + 123_000, update_ns=T0_NS + 123_000)
    assert await pg_store.get("alice", backtest.backtest_id) == stored


async def test_outcome_details_are_stored_as_jsonb_takes_them(pg_store: PgBacktestStore) -> None:
    # Arrange: the producer's details come read-only; jsonb has no NaN and no NUL characters
    await pg_store.insert(make_backtest(1))
    result = BacktestResult(
        total_return=0.12, win_rate=0.55, total_trades=40, sharpe_ratio=1.3, max_drawdown=0.08,
        details=MappingProxyType({"per_pattern": {"Doji": {"trades": 4}}, "bad": math.nan, "text": "a\x00b"}),
    )  # fmt: skip

    # Act
    done = await pg_store.record_outcome(
        "backtest_0001", BacktestOutcome(state=S.COMPLETED, result=result), now_ns=T0_NS + 5 * 10**9
    )

    # Assert
    assert done is not None
    assert done.result == replace(
        result, details={"per_pattern": {"Doji": {"trades": 4}}, "bad": None, "text": "ab"}
    )
    assert await pg_store.get("alice", "backtest_0001") == done


async def test_state_survives_a_restart(pg_database_url: str, pg_store: PgBacktestStore) -> None:
    # Arrange
    await pg_store.insert(make_backtest(1))
    await pg_store.record_progress([make_report("backtest_0001", 0.3, "AAPL")])

    # Act: a new process would open a new pool
    pool = await create_pool(pg_database_url, min_size=1, max_size=1)
    try:
        reloaded = await PgBacktestStore(pool).get("alice", "backtest_0001")
    finally:
        await pool.close()

    # Assert
    assert (reloaded.state, reloaded.progress, reloaded.current_symbol) == (S.RUNNING, 0.3, "AAPL")


async def test_closed_pool_raises_dependency_unavailable(pg_database_url: str) -> None:
    # Arrange
    pool = await create_pool(pg_database_url, min_size=1, max_size=1)
    await apply_migrations(pool)
    store = PgBacktestStore(pool)
    await pool.close()

    # Act / Assert
    with pytest.raises(DependencyUnavailableError):
        await store.list("alice", limit=10)
