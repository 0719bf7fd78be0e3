"""BacktestJobs: submit, progress, outcome, cancel and paced writes, over an in-memory store."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from backtest_fakes import (
    NOW_NS,
    RecordingPublisher,
    S,
    completed,
    make_jobs,
    submission,
    until,
)
from redis.exceptions import ConnectionError as RedisConnectionError

from tickstock_server.errors import (
    DependencyUnavailableError,
    InvalidRequestError,
    NotFoundError,
)


async def test_submit_stores_queued_job_and_publishes_it_in_the_original_shape() -> None:
    # Arrange
    jobs, store, publisher = make_jobs()

    # Act
    backtest = await jobs.submit("alice", submission(symbols=("msft", "AAPL")))

    # Assert
    assert backtest.state is S.QUEUED
    assert backtest.backtest_id.startswith(f"backtest_{NOW_NS // 10**9}_")
    assert store.rows[backtest.backtest_id] == backtest
    assert publisher.messages == [
        (
            "tickstock.jobs.backtest",
            {
                "type": "backtest_job",
                "job_id": backtest.backtest_id,
                "user_id": "alice",
                "symbols": ["MSFT", "AAPL"],
                "start_date": "2025-01-02",
                "end_date": "2025-12-31",
                "patterns": ["Bull_Flag", "Doji"],
                "parameters": {
                    "initial_capital": 100000.0,
                    "commission_rate": 0.001,
                    "slippage_rate": 0.0005,
                    "max_position_size": 0.1,
                    "stop_loss_pct": 0.05,
                    "take_profit_pct": 0.1,
                },
                "timestamp": NOW_NS / 10**9,
                "source": "tickstock",
            },
        )
    ]


async def test_submit_invalid_request_stores_and_publishes_nothing() -> None:
    # Arrange
    jobs, store, publisher = make_jobs()

    # Act / Assert
    with pytest.raises(InvalidRequestError):
        await jobs.submit("alice", submission(symbols=()))
    assert (store.rows, publisher.messages) == ({}, [])


async def test_submit_nobody_listening_fails_the_job() -> None:
    # Arrange
    jobs, store, _ = make_jobs(RecordingPublisher(receivers=0))

    # Act
    backtest = await jobs.submit("alice", submission())

    # Assert
    assert backtest.state is S.FAILED
    assert "no backtest worker" in backtest.error_message
    assert store.rows[backtest.backtest_id].state is S.FAILED
    assert jobs.stats().unheard == 1


async def test_submit_redis_down_raises_unavailable_and_fails_the_job() -> None:
    # Arrange
    jobs, store, _ = make_jobs(RecordingPublisher(error=RedisConnectionError("refused")))

    # Act / Assert
    with pytest.raises(DependencyUnavailableError):
        await jobs.submit("alice", submission())
    assert [row.state for row in store.rows.values()] == [S.FAILED]
    assert jobs.stats().publish_failures == 1


async def test_progress_then_outcome_complete_the_job() -> None:
    # Arrange
    jobs, store, _ = make_jobs()
    backtest = await jobs.submit("alice", submission())

    # Act
    jobs.apply_progress(backtest.backtest_id, 0.5, "MSFT", NOW_NS + 10**9)
    await jobs.flush()
    running = store.rows[backtest.backtest_id]
    jobs.apply_outcome(backtest.backtest_id, completed(total_return=0.1, total_trades=3))
    await jobs.flush()

    # Assert
    assert (running.state, running.progress, running.current_symbol) == (S.RUNNING, 0.5, "MSFT")
    done = await jobs.get("alice", backtest.backtest_id)
    assert (done.state, done.progress) == (S.COMPLETED, 1.0)
    assert done.result is not None and (done.result.total_return, done.result.total_trades) == (0.1, 3)
    assert jobs.stats().completed == 1


async def test_get_shows_progress_not_yet_written() -> None:
    # Arrange
    jobs, store, _ = make_jobs()
    backtest = await jobs.submit("alice", submission())

    # Act
    jobs.apply_progress(backtest.backtest_id, 0.25, "AAPL")
    seen = await jobs.get("alice", backtest.backtest_id)

    # Assert
    assert store.rows[backtest.backtest_id].state is S.QUEUED
    assert (seen.state, seen.progress) == (S.RUNNING, 0.25)


async def test_late_progress_and_outcome_after_cancel_are_ignored_and_counted() -> None:
    # Arrange
    jobs, store, publisher = make_jobs()
    backtest = await jobs.submit("alice", submission())
    cancelled = await jobs.cancel("alice", backtest.backtest_id)

    # Act
    jobs.apply_progress(backtest.backtest_id, 0.9, "AAPL")
    jobs.apply_outcome(backtest.backtest_id, completed())
    await jobs.flush()

    # Assert
    assert cancelled.state is S.CANCELLED
    assert store.rows[backtest.backtest_id].state is S.CANCELLED
    assert jobs.stats().ignored_by_reason == {"final": 2}
    assert publisher.messages[-1][0] == "tickstock.jobs.cancel"
    assert publisher.messages[-1][1]["type"] == "cancel_job"
    assert publisher.messages[-1][1]["job_id"] == backtest.backtest_id


async def test_progress_for_job_ended_elsewhere_is_ignored_on_write() -> None:
    # Arrange: the job ended in the store without this instance knowing (another replica, a restart)
    jobs, store, _ = make_jobs()
    backtest = await jobs.submit("alice", submission())
    store.rows[backtest.backtest_id] = replace(backtest, state=S.CANCELLED)

    # Act
    jobs.apply_progress(backtest.backtest_id, 0.3)
    jobs.apply_progress("backtest_unknown", 0.3)
    await jobs.flush()

    # Assert
    assert store.rows[backtest.backtest_id].state is S.CANCELLED
    assert jobs.stats().ignored_by_reason == {"not_active": 2}


async def test_cancel_twice_returns_cancelled_and_tells_producer_once() -> None:
    # Arrange
    jobs, _, publisher = make_jobs()
    backtest = await jobs.submit("alice", submission())
    await jobs.cancel("alice", backtest.backtest_id)

    # Act
    again = await jobs.cancel("alice", backtest.backtest_id)

    # Assert
    assert again.state is S.CANCELLED
    assert [channel for channel, _ in publisher.messages].count("tickstock.jobs.cancel") == 1


async def test_cancel_completed_job_raises_invalid_request_on_backtest_id() -> None:
    # Arrange
    jobs, _, _ = make_jobs()
    backtest = await jobs.submit("alice", submission())
    jobs.apply_outcome(backtest.backtest_id, completed())
    await jobs.flush()

    # Act / Assert
    with pytest.raises(InvalidRequestError) as caught:
        await jobs.cancel("alice", backtest.backtest_id)
    assert [violation.field for violation in caught.value.violations] == ["backtest_id"]


async def test_another_users_job_is_not_found() -> None:
    # Arrange
    jobs, _, _ = make_jobs()
    backtest = await jobs.submit("alice", submission())

    # Act / Assert
    with pytest.raises(NotFoundError):
        await jobs.get("bob", backtest.backtest_id)
    with pytest.raises(NotFoundError):
        await jobs.cancel("bob", backtest.backtest_id)
    with pytest.raises(NotFoundError):
        await anext(jobs.watch("bob", backtest.backtest_id))


async def test_writer_writes_progress_at_most_once_per_interval_and_outcomes_at_once() -> None:
    # Arrange
    jobs, store, _ = make_jobs(progress_write_interval_s=3600.0)
    first = await jobs.submit("alice", submission())
    second = await jobs.submit("alice", submission())
    writer = asyncio.create_task(jobs.run())
    try:
        # Act
        jobs.apply_progress(first.backtest_id, 0.1)
        await until(lambda: len(store.progress_writes) == 1)
        for step in range(2, 10):
            jobs.apply_progress(first.backtest_id, step / 10)
            jobs.apply_progress(second.backtest_id, step / 10)
        jobs.apply_outcome(second.backtest_id, completed())
        await until(lambda: store.rows[second.backtest_id].state is S.COMPLETED)
        await asyncio.sleep(0.01)

        # Assert
        assert store.progress_writes == [(first.backtest_id,)]
        assert jobs.stats().pending_progress == 1  # first's latest report, due after the interval
        assert (await jobs.get("alice", first.backtest_id)).progress == 0.9
    finally:
        writer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writer


async def test_progress_write_failure_keeps_reports_for_retry() -> None:
    # Arrange
    jobs, store, _ = make_jobs()
    backtest = await jobs.submit("alice", submission())
    jobs.apply_progress(backtest.backtest_id, 0.4, "AAPL")
    store.fail_next_progress_write = True

    # Act
    with pytest.raises(DependencyUnavailableError):
        await jobs.flush()
    jobs.apply_progress(backtest.backtest_id, 0.6)
    await jobs.flush()

    # Assert
    row = store.rows[backtest.backtest_id]
    assert (row.progress, row.current_symbol) == (0.6, "AAPL")
