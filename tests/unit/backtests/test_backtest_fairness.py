"""Per-user quota and fair dispatch of backtests to the producer, over the memory fakes and a pinned clock."""

from __future__ import annotations

import itertools

import pytest
from backtest_fakes import NOW_NS, S, completed, make_jobs, submission

from tickstock_server.adapters.memory.backtests import MemoryBacktestRequests
from tickstock_server.backtests.config import BacktestJobsConfig
from tickstock_server.backtests.jobs import BacktestJobs
from tickstock_server.errors import LimitExceededError


async def _end(jobs: BacktestJobs, backtest_id: str) -> None:
    """The producer reports the job completed, and the outcome is written."""
    jobs.apply_outcome(backtest_id, completed())
    await jobs.flush()


async def test_submission_beyond_the_users_quota_is_refused_and_counted() -> None:
    # Arrange
    jobs, store, _ = make_jobs(max_active_per_user=3)
    for _ in range(3):
        await jobs.service.submit("alice", submission())

    # Act
    with pytest.raises(LimitExceededError) as refused:
        await jobs.service.submit("alice", submission())
    of_bob = await jobs.service.submit("bob", submission())

    # Assert
    assert "at most 3 backtests queued or running" in str(refused.value)
    assert len([row for row in store.rows.values() if row.user == "alice"]) == 3
    assert of_bob.state is S.QUEUED
    assert (jobs.stats().refused_over_quota, jobs.stats().submitted) == (1, 4)


async def test_an_ended_or_cancelled_job_frees_quota() -> None:
    # Arrange
    jobs, _, _ = make_jobs(max_active_per_user=2)
    first = await jobs.service.submit("alice", submission())
    second = await jobs.service.submit("alice", submission())

    # Act
    await _end(jobs, first.backtest_id)
    third = await jobs.service.submit("alice", submission())
    await jobs.service.cancel("alice", second.backtest_id)
    fourth = await jobs.service.submit("alice", submission())

    # Assert
    assert (third.state, fourth.state) == (S.QUEUED, S.QUEUED)


async def test_jobs_beyond_max_in_flight_wait_queued_and_are_not_failed() -> None:
    # Arrange
    jobs, store, publisher = make_jobs(max_in_flight=2)

    # Act
    submitted = [await jobs.service.submit("alice", submission()) for _ in range(4)]

    # Assert: two at the producer, two waiting; all four truthfully QUEUED
    assert publisher.jobs == submitted[:2]
    assert [row.state for row in store.rows.values()] == [S.QUEUED] * 4
    waiting = await jobs.service.get("alice", submitted[3].backtest_id)
    assert waiting.state is S.QUEUED
    assert jobs.stats().dispatched == 2


async def test_another_users_single_job_goes_before_the_busy_users_later_ones() -> None:
    # Arrange: alice fills the producer and queues many more; then bob submits one (1 ms per reading)
    clock = itertools.count(NOW_NS, 1_000_000)
    jobs, _, publisher = make_jobs(clock_ns=clock.__next__, max_in_flight=2, max_active_per_user=20)
    alices = [await jobs.service.submit("alice", submission()) for _ in range(20)]
    bobs = await jobs.service.submit("bob", submission())

    # Act: two of alice's jobs end, one after the other
    await _end(jobs, alices[0].backtest_id)
    await jobs.dispatch()
    await _end(jobs, alices[1].backtest_id)
    await jobs.dispatch()

    # Assert
    assert bobs.state is S.QUEUED  # queued, never refused for the producer being busy
    assert [job.backtest_id for job in publisher.jobs] == [
        alices[0].backtest_id,
        alices[1].backtest_id,
        bobs.backtest_id,
        alices[2].backtest_id,
    ]


async def test_a_job_that_reports_progress_is_running_and_keeps_its_place() -> None:
    # Arrange
    jobs, _, publisher = make_jobs(max_in_flight=1)
    first = await jobs.service.submit("alice", submission())
    second = await jobs.service.submit("bob", submission())

    # Act
    jobs.apply_progress(first.backtest_id, 0.5)
    await jobs.flush()
    await jobs.dispatch()

    # Assert
    assert (await jobs.service.get("alice", first.backtest_id)).state is S.RUNNING
    assert (await jobs.service.get("bob", second.backtest_id)).state is S.QUEUED
    assert publisher.jobs == [first]


async def test_queued_jobs_are_dispatched_by_the_jobs_of_a_restarted_server() -> None:
    # Arrange: the first server queued three jobs behind one in flight, then stopped (1 ms per reading)
    clock = itertools.count(NOW_NS, 1_000_000)
    jobs, store, publisher = make_jobs(clock_ns=clock.__next__, max_in_flight=1)
    submitted = [await jobs.service.submit(user, submission()) for user in ("alice", "bob", "carol")]
    restarted_publisher = MemoryBacktestRequests()
    restarted = BacktestJobs(
        store=store,
        publisher=restarted_publisher,
        config=BacktestJobsConfig(max_in_flight=1),
        clock_ns=clock.__next__,
    )

    # Act: the job in flight ends; the restarted server's dispatcher hands over the next
    await _end(restarted, submitted[0].backtest_id)
    await restarted.dispatch()

    # Assert
    assert publisher.jobs == [submitted[0]]
    assert restarted_publisher.jobs == [submitted[1]]
    assert store.rows[submitted[2].backtest_id].state is S.QUEUED


async def test_a_dispatched_job_never_heard_of_is_handed_over_again_after_the_silence() -> None:
    # Arrange
    now_ns = [NOW_NS]
    store_jobs, store, publisher = make_jobs(max_in_flight=1)
    first = await store_jobs.service.submit("alice", submission())
    jobs = BacktestJobs(
        store=store,
        publisher=publisher,
        config=BacktestJobsConfig(max_in_flight=1, dispatch_silence_s=60),
        clock_ns=lambda: now_ns[0],
    )
    await jobs.dispatch()
    still_heard = list(publisher.jobs)

    # Act
    now_ns[0] += 61 * 10**9
    await jobs.dispatch()

    # Assert
    assert still_heard == [first]
    assert [job.backtest_id for job in publisher.jobs] == [first.backtest_id] * 2
    assert store.rows[first.backtest_id].state is S.QUEUED


def test_config_refuses_bounds_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BacktestJobsConfig(max_active_per_user=0)
