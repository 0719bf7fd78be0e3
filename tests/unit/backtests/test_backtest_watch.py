"""Watching backtests: current state then changes, conflation for slow watchers, limits."""

from __future__ import annotations

import pytest
from backtest_fakes import (
    S,
    completed,
    failed,
    make_jobs,
    submission,
)

from tickstock_server.errors import (
    LimitExceededError,
)

# --- watching -----------------------------------------------------------------------------------------


async def test_watch_yields_current_state_then_changes_until_final() -> None:
    # Arrange
    jobs, _, _ = make_jobs()
    backtest = await jobs.service.submit("alice", submission())
    states = jobs.service.watch("alice", backtest.backtest_id)

    # Act
    first = await anext(states)
    jobs.apply_progress(backtest.backtest_id, 0.5, "MSFT")
    second = await anext(states)
    jobs.apply_outcome(backtest.backtest_id, failed("no data"))
    await jobs.flush()
    third = await anext(states)

    # Assert
    assert [s.state for s in (first, second, third)] == [S.QUEUED, S.RUNNING, S.FAILED]
    assert (second.progress, second.current_symbol) == (0.5, "MSFT")
    assert third.error_message == "no data"
    with pytest.raises(StopAsyncIteration):
        await anext(states)
    assert jobs.stats().watchers == 0


async def test_slow_watcher_sees_only_the_latest_state_and_the_final_one() -> None:
    # Arrange
    jobs, _, _ = make_jobs()
    backtest = await jobs.service.submit("alice", submission())
    states = jobs.service.watch("alice", backtest.backtest_id)
    await anext(states)

    # Act: five changes while the watcher does not read
    for step in range(1, 6):
        jobs.apply_progress(backtest.backtest_id, step / 10)
    latest = await anext(states)
    for step in range(6, 9):
        jobs.apply_progress(backtest.backtest_id, step / 10)
    jobs.apply_outcome(backtest.backtest_id, completed())
    await jobs.flush()
    rest = [state async for state in states]

    # Assert
    assert latest.progress == 0.5
    assert [(s.state, s.progress) for s in rest] == [(S.COMPLETED, 1.0)]
    assert jobs.stats().states_conflated == 4 + 3


async def test_watch_of_ended_job_yields_it_once() -> None:
    # Arrange
    jobs, _, _ = make_jobs()
    backtest = await jobs.service.submit("alice", submission())
    await jobs.service.cancel("alice", backtest.backtest_id)

    # Act
    seen = [state async for state in jobs.service.watch("alice", backtest.backtest_id)]

    # Assert
    assert [state.state for state in seen] == [S.CANCELLED]


async def test_watchers_share_changes_and_cancel_ends_every_stream() -> None:
    # Arrange
    jobs, _, _ = make_jobs()
    backtest = await jobs.service.submit("alice", submission())
    one, two = (
        jobs.service.watch("alice", backtest.backtest_id),
        jobs.service.watch("alice", backtest.backtest_id),
    )
    await anext(one)
    await anext(two)

    # Act
    await jobs.service.cancel("alice", backtest.backtest_id)
    seen_one = [state.state async for state in one]
    seen_two = [state.state async for state in two]

    # Assert
    assert seen_one == seen_two == [S.CANCELLED]


async def test_watch_beyond_user_limit_raises_limit_exceeded() -> None:
    # Arrange
    jobs, _, _ = make_jobs(max_watchers_per_user=1)
    backtest = await jobs.service.submit("alice", submission())
    first = jobs.service.watch("alice", backtest.backtest_id)
    await anext(first)

    # Act / Assert
    with pytest.raises(LimitExceededError):
        await anext(jobs.service.watch("alice", backtest.backtest_id))
    await first.aclose()
    again = jobs.service.watch("alice", backtest.backtest_id)
    assert (await anext(again)).state is S.QUEUED
    await again.aclose()
