"""Backtest job metrics: submissions, ends, ignored producer messages by reason, watchers, conflation."""

from __future__ import annotations

from backtest_fakes import completed, make_jobs, submission

from tickstock_server.adapters.memory.backtests import MemoryBacktestRequests
from tickstock_server.support.metric_samples import MetricSample


def _values(samples: list[MetricSample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples}


async def test_job_counters_are_exported_with_ignored_producer_messages_by_reason() -> None:
    # Arrange
    jobs, _, _ = make_jobs()
    done = await jobs.service.submit("alice", submission())
    cancelled = await jobs.service.submit("alice", submission())
    watching = await jobs.service.submit("bob", submission())
    states = jobs.service.watch("bob", watching.backtest_id)
    await anext(states)

    # Act
    jobs.apply_outcome(done.backtest_id, completed())
    await jobs.flush()
    jobs.apply_progress(done.backtest_id, 0.5)  # late: the job has ended
    await jobs.service.cancel("alice", cancelled.backtest_id)
    for step in (1, 2, 3):
        jobs.apply_progress(watching.backtest_id, step / 10)  # bob reads none of them yet

    # Assert
    values = _values(list(jobs.metric_samples()))
    assert {key: value for key, value in values.items() if value} == {
        ("tickstock_backtests_submitted", ()): 3,
        ("tickstock_backtests_dispatched", ()): 3,
        ("tickstock_backtests_completed", ()): 1,
        ("tickstock_backtests_cancelled", ()): 1,
        ("tickstock_backtest_messages_ignored", (("reason", "final"),)): 1,
        ("tickstock_backtest_progress_pending", ()): 1,
        ("tickstock_backtest_watchers", ()): 1,
        ("tickstock_backtest_states_conflated", ()): 2,
    }
    assert values[("tickstock_backtests_failed", ())] == 0
    assert values[("tickstock_backtests_unheard", ())] == 0
    await states.aclose()


async def test_jobs_nobody_hears_are_exported_as_unheard() -> None:
    jobs, _, _ = make_jobs(MemoryBacktestRequests(receivers=0))

    await jobs.service.submit("alice", submission())

    values = _values(list(jobs.metric_samples()))
    assert (values[("tickstock_backtests_submitted", ())], values[("tickstock_backtests_unheard", ())]) == (
        1,
        1,
    )
