"""BacktestJobs and its service: submit, progress, outcome, cancel and paced writes, over the memory fakes."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace

import pytest
from backtest_fakes import (
    NOW_NS,
    S,
    completed,
    make_jobs,
    submission,
)
from polling import eventually

from tickstock_server.adapters.memory.backtests import MemoryBacktestRequests
from tickstock_server.domain.backtests import BacktestParameters
from tickstock_server.errors import (
    DependencyUnavailableError,
    InvalidRequestError,
    NotFoundError,
)


async def test_submit_stores_queued_job_and_publishes_it() -> None:
    # Arrange
    jobs, store, publisher = make_jobs()

    # Act
    backtest = await jobs.service.submit("alice", submission(symbols=("msft", "AAPL")))

    # Assert: the message's shape is the publisher's (test_backtest_request_messages.py)
    assert backtest.state is S.QUEUED
    assert backtest.backtest_id.startswith(f"backtest_{NOW_NS // 10**9}_")
    assert store.rows[backtest.backtest_id] == backtest
    assert publisher.jobs == [backtest]
    assert (backtest.user, backtest.symbols, backtest.patterns) == (
        "alice",
        ("MSFT", "AAPL"),
        ("Bull_Flag", "Doji"),
    )
    assert (backtest.start_date, backtest.end_date) == (dt.date(2025, 1, 2), dt.date(2025, 12, 31))
    assert backtest.parameters == BacktestParameters()
    assert backtest.create_ns == backtest.update_ns == NOW_NS


async def test_submit_invalid_request_stores_and_publishes_nothing() -> None:
    # Arrange
    jobs, store, publisher = make_jobs()

    # Act / Assert
    with pytest.raises(InvalidRequestError):
        await jobs.service.submit("alice", submission(symbols=()))
    assert (store.rows, publisher.jobs) == ({}, [])


async def test_submit_nobody_listening_fails_the_job() -> None:
    # Arrange
    jobs, store, _ = make_jobs(MemoryBacktestRequests(receivers=0))

    # Act
    backtest = await jobs.service.submit("alice", submission())

    # Assert
    assert backtest.state is S.FAILED
    assert "no backtest worker" in backtest.error_message
    assert store.rows[backtest.backtest_id].state is S.FAILED
    assert jobs.stats().unheard == 1


async def test_submit_redis_down_keeps_the_job_queued_and_a_later_pass_publishes_it() -> None:
    # Arrange
    publisher = MemoryBacktestRequests()
    publisher.unavailable = True
    jobs, store, _ = make_jobs(publisher)

    # Act
    backtest = await jobs.service.submit("alice", submission())
    failures = jobs.stats().publish_failures
    publisher.unavailable = False
    await jobs.dispatch()

    # Assert
    assert (backtest.state, store.rows[backtest.backtest_id].state) == (S.QUEUED, S.QUEUED)
    assert failures == 1
    assert publisher.jobs == [backtest]


async def test_progress_then_outcome_complete_the_job() -> None:
    # Arrange
    jobs, store, _ = make_jobs()
    backtest = await jobs.service.submit("alice", submission())

    # Act
    jobs.apply_progress(backtest.backtest_id, 0.5, "MSFT", NOW_NS + 10**9)
    await jobs.flush()
    running = store.rows[backtest.backtest_id]
    jobs.apply_outcome(backtest.backtest_id, completed(total_return=0.1, total_trades=3))
    await jobs.flush()

    # Assert
    assert (running.state, running.progress, running.current_symbol) == (S.RUNNING, 0.5, "MSFT")
    done = await jobs.service.get("alice", backtest.backtest_id)
    assert (done.state, done.progress) == (S.COMPLETED, 1.0)
    assert done.result is not None and (done.result.total_return, done.result.total_trades) == (0.1, 3)
    assert jobs.stats().completed == 1


async def test_get_shows_progress_not_yet_written() -> None:
    # Arrange
    jobs, store, _ = make_jobs()
    backtest = await jobs.service.submit("alice", submission())

    # Act
    jobs.apply_progress(backtest.backtest_id, 0.25, "AAPL")
    seen = await jobs.service.get("alice", backtest.backtest_id)

    # Assert
    assert store.rows[backtest.backtest_id].state is S.QUEUED
    assert (seen.state, seen.progress) == (S.RUNNING, 0.25)


async def test_late_progress_and_outcome_after_cancel_are_ignored_and_counted() -> None:
    # Arrange
    jobs, store, publisher = make_jobs()
    backtest = await jobs.service.submit("alice", submission())
    cancelled = await jobs.service.cancel("alice", backtest.backtest_id)

    # Act
    jobs.apply_progress(backtest.backtest_id, 0.9, "AAPL")
    jobs.apply_outcome(backtest.backtest_id, completed())
    await jobs.flush()

    # Assert
    assert cancelled.state is S.CANCELLED
    assert store.rows[backtest.backtest_id].state is S.CANCELLED
    assert jobs.stats().ignored_by_reason == {"final": 2}
    assert [(cancelled_job.backtest_id, now_ns) for cancelled_job, now_ns in publisher.cancels] == [
        (backtest.backtest_id, NOW_NS)
    ]


async def test_progress_for_job_ended_elsewhere_is_ignored_on_write() -> None:
    # Arrange: the job ended in the store without this instance knowing (another replica, a restart)
    jobs, store, _ = make_jobs()
    backtest = await jobs.service.submit("alice", submission())
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
    backtest = await jobs.service.submit("alice", submission())
    await jobs.service.cancel("alice", backtest.backtest_id)

    # Act
    again = await jobs.service.cancel("alice", backtest.backtest_id)

    # Assert
    assert again.state is S.CANCELLED
    assert len(publisher.cancels) == 1


async def test_cancel_completed_job_raises_invalid_request_on_backtest_id() -> None:
    # Arrange
    jobs, _, _ = make_jobs()
    backtest = await jobs.service.submit("alice", submission())
    jobs.apply_outcome(backtest.backtest_id, completed())
    await jobs.flush()

    # Act / Assert
    with pytest.raises(InvalidRequestError) as caught:
        await jobs.service.cancel("alice", backtest.backtest_id)
    assert [violation.field for violation in caught.value.violations] == ["backtest_id"]


async def test_another_users_job_is_not_found() -> None:
    # Arrange
    jobs, _, _ = make_jobs()
    backtest = await jobs.service.submit("alice", submission())

    # Act / Assert
    with pytest.raises(NotFoundError):
        await jobs.service.get("bob", backtest.backtest_id)
    with pytest.raises(NotFoundError):
        await jobs.service.cancel("bob", backtest.backtest_id)
    with pytest.raises(NotFoundError):
        await anext(jobs.service.watch("bob", backtest.backtest_id))


async def test_writer_writes_progress_at_most_once_per_interval_and_outcomes_at_once() -> None:
    # Arrange
    jobs, store, _ = make_jobs(progress_write_interval_s=3600.0)
    first = await jobs.service.submit("alice", submission())
    second = await jobs.service.submit("alice", submission())
    writer = asyncio.create_task(jobs.run())
    try:
        # Act
        jobs.apply_progress(first.backtest_id, 0.1)
        await eventually(lambda: len(store.progress_writes) == 1)
        for step in range(2, 10):
            jobs.apply_progress(first.backtest_id, step / 10)
            jobs.apply_progress(second.backtest_id, step / 10)
        jobs.apply_outcome(second.backtest_id, completed())
        await eventually(lambda: store.rows[second.backtest_id].state is S.COMPLETED)
        await asyncio.sleep(0.01)

        # Assert
        assert store.progress_writes == [(first.backtest_id,)]
        assert jobs.stats().pending_progress == 1  # first's latest report, due after the interval
        assert (await jobs.service.get("alice", first.backtest_id)).progress == 0.9
    finally:
        writer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writer


async def test_progress_write_failure_keeps_reports_for_retry() -> None:
    # Arrange
    jobs, store, _ = make_jobs()
    backtest = await jobs.service.submit("alice", submission())
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
