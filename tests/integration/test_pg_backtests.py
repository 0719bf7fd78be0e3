"""PgBacktestStore on a real PostgreSQL: round trip, isolation, paging, guarded updates, restarts."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import pytest

from tickstock_server.domain.backtests import (
    Backtest,
    BacktestCursor,
    BacktestOutcome,
    BacktestParameters,
    BacktestResult,
    BacktestState,
    ProgressReport,
)
from tickstock_server.errors import NotFoundError
from tickstock_server.storage.backtests import PgBacktestStore
from tickstock_server.storage.database import create_pool
from tickstock_server.storage.migrate import apply_migrations

T0_NS = 1_767_700_800_000_000_000  # 2026-01-06T12:00:00Z
S = BacktestState


@pytest.fixture
async def store(pg_pool: asyncpg.Pool) -> AsyncIterator[PgBacktestStore]:
    await apply_migrations(pg_pool)
    yield PgBacktestStore(pg_pool)


def _backtest(index: int = 0, user: str = "alice", **changes: object) -> Backtest:
    base = Backtest(
        backtest_id=f"backtest_{index:04d}",
        user=user,
        state=S.QUEUED,
        symbols=("AAPL", "BRK.B"),
        start_date=dt.date(2025, 1, 2),
        end_date=dt.date(2025, 12, 31),
        patterns=("Bull_Flag", "Doji"),
        parameters=BacktestParameters(commission_rate=0.002),
        create_ns=T0_NS + index * 1_000_000,
        update_ns=T0_NS + index * 1_000_000,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _report(backtest_id: str, progress: float, symbol: str = "", eta_ns: int | None = None) -> ProgressReport:
    return ProgressReport(
        backtest_id=backtest_id,
        progress=progress,
        current_symbol=symbol,
        estimated_completion_ns=eta_ns,
        reported_ns=T0_NS + 10**9,
    )


async def test_insert_then_get_returns_the_same_backtest_at_microseconds(store: PgBacktestStore) -> None:
    # Arrange
    backtest = _backtest(create_ns=T0_NS + 123_456, update_ns=T0_NS + 123_456)

    # Act
    stored = await store.insert(backtest)

    # Assert: PostgreSQL keeps microseconds, everything else exactly
    assert stored == replace(backtest, create_ns=T0_NS + 123_000, update_ns=T0_NS + 123_000)
    assert await store.get("alice", backtest.backtest_id) == stored


async def test_get_another_users_backtest_raises_not_found(store: PgBacktestStore) -> None:
    # Arrange
    await store.insert(_backtest())

    # Act / Assert
    with pytest.raises(NotFoundError):
        await store.get("bob", "backtest_0000")
    with pytest.raises(NotFoundError):
        await store.cancel("bob", "backtest_0000", now_ns=T0_NS)
    with pytest.raises(NotFoundError):
        await store.get("alice", "backtest_missing")


async def test_list_pages_newest_first_through_every_backtest_of_the_user(store: PgBacktestStore) -> None:
    # Arrange: 25 of alice's, two sharing a creation time, and bob's in between
    for index in range(25):
        await store.insert(_backtest(index, create_ns=T0_NS if index in (7, 8) else T0_NS + index * 10**6))
        await store.insert(_backtest(100 + index, user="bob"))

    # Act
    seen: list[str] = []
    after: BacktestCursor | None = None
    pages = 0
    while True:
        page = await store.list("alice", limit=10, after=after)
        seen += [backtest.backtest_id for backtest in page.backtests]
        pages += 1
        after = page.cursor
        if after is None:
            break

    # Assert
    assert pages == 3
    assert len(seen) == len(set(seen)) == 25
    assert all(backtest_id < "backtest_0100" for backtest_id in seen)
    expected = sorted(
        (
            _backtest(index, create_ns=T0_NS if index in (7, 8) else T0_NS + index * 10**6)
            for index in range(25)
        ),
        key=lambda backtest: (backtest.create_ns, backtest.backtest_id),
        reverse=True,
    )
    assert seen == [backtest.backtest_id for backtest in expected]


async def test_list_says_whether_older_backtests_follow(store: PgBacktestStore) -> None:
    # Arrange
    for index in range(3):
        await store.insert(_backtest(index))

    # Act
    first = await store.list("alice", limit=2)
    rest = await store.list("alice", limit=2, after=first.cursor)

    # Assert
    assert ([b.backtest_id for b in first.backtests], first.more) == (
        ["backtest_0002", "backtest_0001"],
        True,
    )
    assert ([b.backtest_id for b in rest.backtests], rest.more, rest.cursor) == (
        ["backtest_0000"],
        False,
        None,
    )


async def test_progress_applies_to_active_backtests_only(store: PgBacktestStore) -> None:
    # Arrange
    await store.insert(_backtest(1))
    await store.insert(_backtest(2, state=S.CANCELLED))

    # Act
    applied = await store.record_progress(
        [_report("backtest_0001", 0.4, "AAPL", T0_NS + 60 * 10**9), _report("backtest_0002", 0.4),
         _report("backtest_none", 0.4)]
    )  # fmt: skip
    await store.record_progress([_report("backtest_0001", 0.6)])

    # Assert
    assert applied == {"backtest_0001"}
    running = await store.get("alice", "backtest_0001")
    assert (running.state, running.progress, running.current_symbol) == (S.RUNNING, 0.6, "AAPL")
    assert running.estimated_completion_ns == T0_NS + 60 * 10**9
    assert running.update_ns == T0_NS + 10**9
    assert (await store.get("alice", "backtest_0002")).state is S.CANCELLED


async def test_outcome_ends_an_active_backtest_once(store: PgBacktestStore) -> None:
    # Arrange
    await store.insert(_backtest(1))
    result = BacktestResult(
        total_return=0.12, win_rate=0.55, total_trades=40, sharpe_ratio=1.3, max_drawdown=0.08,
        details={"per_pattern": {"Doji": {"trades": 4}}, "bad": math.nan, "text": "a\x00b"},
    )  # fmt: skip

    # Act
    done = await store.record_outcome(
        "backtest_0001", BacktestOutcome(state=S.COMPLETED, result=result), now_ns=T0_NS + 5 * 10**9
    )
    again = await store.record_outcome(
        "backtest_0001", BacktestOutcome(state=S.FAILED, error_message="late"), now_ns=T0_NS + 6 * 10**9
    )

    # Assert
    assert done is not None
    assert (done.state, done.progress, done.update_ns) == (S.COMPLETED, 1.0, T0_NS + 5 * 10**9)
    assert done.result == replace(
        result, details={"per_pattern": {"Doji": {"trades": 4}}, "bad": None, "text": "ab"}
    )
    assert again is None
    assert await store.get("alice", "backtest_0001") == done
    assert await store.record_outcome("backtest_none", BacktestOutcome(state=S.FAILED), now_ns=T0_NS) is None


async def test_cancel_reports_whether_it_cancelled(store: PgBacktestStore) -> None:
    # Arrange
    await store.insert(_backtest(1))

    # Act
    first = await store.cancel("alice", "backtest_0001", now_ns=T0_NS + 10**9)
    second = await store.cancel("alice", "backtest_0001", now_ns=T0_NS + 2 * 10**9)

    # Assert
    assert first[1] is True and first[0].state is S.CANCELLED
    assert second == (first[0], False)


async def test_state_survives_a_restart(pg_database_url: str, store: PgBacktestStore) -> None:
    # Arrange
    await store.insert(_backtest(1))
    await store.record_progress([_report("backtest_0001", 0.3, "AAPL")])

    # Act: a new process would open a new pool
    pool = await create_pool(pg_database_url, min_size=1, max_size=1)
    try:
        reloaded = await PgBacktestStore(pool).get("alice", "backtest_0001")
    finally:
        await pool.close()

    # Assert
    assert (reloaded.state, reloaded.progress, reloaded.current_symbol) == (S.RUNNING, 0.3, "AAPL")
