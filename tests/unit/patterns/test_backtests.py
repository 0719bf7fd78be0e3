"""Backtests without servers: validation, state transitions, the job flow, paced writes and watching."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from tickstock_server.domain.backtest_requests import (
    MAX_SYMBOLS,
    BacktestSubmission,
    validate_submission,
)
from tickstock_server.domain.backtests import (
    Backtest,
    BacktestOutcome,
    BacktestPage,
    BacktestParameters,
    BacktestState,
    ProgressReport,
    can_transition,
    outcome_from_report,
    result_from_report,
    with_outcome,
    with_progress,
)
from tickstock_server.errors import (
    DependencyUnavailableError,
    InvalidRequestError,
    LimitExceededError,
    NotFoundError,
)
from tickstock_server.patterns.backtest_config import BacktestJobsConfig
from tickstock_server.patterns.backtests import BacktestJobs

TODAY = dt.date(2026, 1, 6)
NOW_NS = 1_767_700_800_000_000_000  # 2026-01-06T12:00:00Z
S = BacktestState


def _submission(**changes: Any) -> BacktestSubmission:
    base = BacktestSubmission(
        symbols=("AAPL", "MSFT"),
        start_date=(2025, 1, 2),
        end_date=(2025, 12, 31),
        patterns=("Bull_Flag", "Doji"),
    )
    return replace(base, **changes)


def _violated_fields(submission: BacktestSubmission) -> set[str]:
    with pytest.raises(InvalidRequestError) as caught:
        validate_submission(submission, today=TODAY)
    return {violation.field for violation in caught.value.violations}


# --- validation ---------------------------------------------------------------------------------------


def test_valid_submission_is_normalised_with_defaults() -> None:
    # Act
    spec = validate_submission(
        _submission(symbols=(" aapl", "MSFT", "AAPL", "brk.b"), parameters={"commission_rate": 0.002}),
        today=TODAY,
    )

    # Assert
    assert spec.symbols == ("AAPL", "MSFT", "BRK.B")
    assert spec.start_date == dt.date(2025, 1, 2)
    assert spec.end_date == dt.date(2025, 12, 31)
    assert spec.patterns == ("Bull_Flag", "Doji")
    assert spec.parameters == BacktestParameters(commission_rate=0.002)
    assert spec.parameters.initial_capital == 100_000.0


def test_fifty_distinct_symbols_with_repeats_are_accepted() -> None:
    # Arrange
    symbols = tuple(f"S{index}" for index in range(MAX_SYMBOLS)) * 2

    # Act
    spec = validate_submission(_submission(symbols=symbols), today=TODAY)

    # Assert
    assert len(spec.symbols) == MAX_SYMBOLS


def test_span_of_exactly_1825_days_ending_today_is_accepted() -> None:
    # Arrange
    start = TODAY - dt.timedelta(days=1825)

    # Act
    spec = validate_submission(
        _submission(start_date=(start.year, start.month, start.day), end_date=(2026, 1, 6)), today=TODAY
    )

    # Assert
    assert (spec.end_date - spec.start_date).days == 1825


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"symbols": tuple(f"S{index}" for index in range(51))}, {"symbols"}),
        ({"symbols": ()}, {"symbols"}),
        ({"symbols": ("AAPL", "not a ticker")}, {"symbols[1]"}),
        ({"symbols": ("",)}, {"symbols[0]"}),
        ({"start_date": (2025, 6, 1), "end_date": (2025, 1, 2)}, {"end_date"}),  # reversed
        ({"start_date": (2025, 6, 1), "end_date": (2025, 6, 1)}, {"end_date"}),  # empty period
        ({"start_date": (2021, 1, 1), "end_date": (2026, 1, 1)}, {"end_date"}),  # 1826 days
        ({"end_date": (2026, 1, 7)}, {"end_date"}),  # tomorrow
        ({"start_date": None}, {"start_date"}),
        ({"end_date": None}, {"end_date"}),
        ({"start_date": (2025, 2, 30)}, {"start_date"}),
        ({"start_date": (2025, 13, 1)}, {"start_date"}),
        ({"start_date": (1899, 12, 31)}, {"start_date"}),
        ({"start_date": (0, 0, 0)}, {"start_date"}),
        ({"patterns": ()}, {"patterns"}),
        ({"patterns": ("Bull Flag",)}, {"patterns[0]"}),
        ({"patterns": ("Doji", "x" * 65)}, {"patterns[1]"}),
        ({"patterns": tuple(f"P{index}" for index in range(51))}, {"patterns"}),
        ({"parameters": {"initial_capital": -1.0}}, {"parameters.initial_capital"}),
        ({"parameters": {"initial_capital": float("inf")}}, {"parameters.initial_capital"}),
        ({"parameters": {"commission_rate": 0.02}}, {"parameters.commission_rate"}),
        ({"parameters": {"commission_rate": float("nan")}}, {"parameters.commission_rate"}),
        ({"parameters": {"slippage_rate": -0.001}}, {"parameters.slippage_rate"}),
        ({"parameters": {"max_position_size": 1.5}}, {"parameters.max_position_size"}),
        ({"parameters": {"max_position_size": 0.0}}, {"parameters.max_position_size"}),
        ({"parameters": {"stop_loss_pct": 0.0}}, {"parameters.stop_loss_pct"}),
        ({"parameters": {"take_profit_pct": 10.5}}, {"parameters.take_profit_pct"}),
        ({"parameters": {"leverage": 2.0}}, {"parameters.leverage"}),
    ],
)
def test_invalid_submission_raises_violation_on_field(changes: dict[str, Any], fields: set[str]) -> None:
    # Act / Assert
    assert _violated_fields(_submission(**changes)) == fields


@pytest.mark.parametrize(
    ("name", "value"),
    [("commission_rate", 0.0), ("commission_rate", 0.01), ("slippage_rate", 0.01), ("max_position_size", 1.0),
     ("stop_loss_pct", 1.0), ("take_profit_pct", 10.0), ("initial_capital", 1e12)],
)  # fmt: skip
def test_parameter_at_range_limit_is_accepted(name: str, value: float) -> None:
    # Act
    spec = validate_submission(_submission(parameters={name: value}), today=TODAY)

    # Assert
    assert getattr(spec.parameters, name) == value


def test_every_violation_is_reported_at_once() -> None:
    # Arrange
    submission = _submission(
        symbols=("bad symbol",),
        start_date=(2025, 6, 1),
        end_date=(2025, 1, 1),
        patterns=(),
        parameters={"slippage_rate": 1.0},
    )

    # Act / Assert
    assert _violated_fields(submission) == {"symbols[0]", "end_date", "patterns", "parameters.slippage_rate"}


def test_flood_of_malformed_symbols_reports_few_violations() -> None:
    # Arrange
    submission = _submission(symbols=("?",) * 10_000)

    # Act
    with pytest.raises(InvalidRequestError) as caught:
        validate_submission(submission, today=TODAY)

    # Assert
    assert len(caught.value.violations) == 11
    assert caught.value.violations[-1].field == "symbols"
    assert "9990 more" in caught.value.violations[-1].description


# --- transitions and producer results ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        (S.QUEUED, S.RUNNING, True), (S.QUEUED, S.COMPLETED, True), (S.QUEUED, S.FAILED, True),
        (S.QUEUED, S.CANCELLED, True), (S.RUNNING, S.RUNNING, True), (S.RUNNING, S.COMPLETED, True),
        (S.RUNNING, S.CANCELLED, True), (S.RUNNING, S.QUEUED, False), (S.QUEUED, S.QUEUED, False),
        (S.COMPLETED, S.RUNNING, False), (S.COMPLETED, S.FAILED, False), (S.FAILED, S.COMPLETED, False),
        (S.CANCELLED, S.RUNNING, False), (S.CANCELLED, S.COMPLETED, False), (S.CANCELLED, S.CANCELLED, False),
    ],
)  # fmt: skip
def test_can_transition_follows_the_lifecycle(current: S, new: S, allowed: bool) -> None:
    # Act / Assert
    assert can_transition(current, new) is allowed


def _backtest(state: BacktestState = S.QUEUED, **changes: Any) -> Backtest:
    base = Backtest(
        backtest_id="backtest_1_abc",
        user="alice",
        state=state,
        symbols=("AAPL",),
        start_date=dt.date(2025, 1, 2),
        end_date=dt.date(2025, 12, 31),
        patterns=("Doji",),
        parameters=BacktestParameters(),
        create_ns=NOW_NS,
        update_ns=NOW_NS,
    )
    return replace(base, **changes)


def _report(progress: float, symbol: str = "", eta_ns: int | None = None) -> ProgressReport:
    return ProgressReport(
        backtest_id="backtest_1_abc",
        progress=progress,
        current_symbol=symbol,
        estimated_completion_ns=eta_ns,
        reported_ns=NOW_NS + 1_000,
    )


def test_progress_moves_queued_to_running_and_keeps_unreported_fields() -> None:
    # Arrange
    running = with_progress(_backtest(), _report(0.2, "AAPL", NOW_NS + 60_000_000_000))
    assert running is not None

    # Act
    later = with_progress(running, _report(0.4))

    # Assert
    assert later is not None
    assert (later.state, later.progress, later.current_symbol) == (S.RUNNING, 0.4, "AAPL")
    assert later.estimated_completion_ns == NOW_NS + 60_000_000_000
    assert later.update_ns == NOW_NS + 1_000


@pytest.mark.parametrize("state", [S.COMPLETED, S.FAILED, S.CANCELLED])
def test_final_state_takes_no_progress_or_outcome(state: BacktestState) -> None:
    # Arrange
    ended = _backtest(state)

    # Act / Assert
    assert with_progress(ended, _report(0.5)) is None
    assert with_outcome(ended, BacktestOutcome(state=S.COMPLETED), now_ns=NOW_NS) is None


@pytest.mark.parametrize(
    ("status", "results", "state", "error"),
    [
        ("completed", {}, S.COMPLETED, ""),
        ("failed", {"error": "no data for XYZ"}, S.FAILED, "no data for XYZ"),
        ("error", {}, S.FAILED, "the producer reported status 'error'"),
        ("Cancelled", {}, S.CANCELLED, ""),
    ],
)
def test_outcome_from_report_maps_status(
    status: str, results: dict[str, object], state: BacktestState, error: str
) -> None:
    # Act
    outcome = outcome_from_report(status, results)

    # Assert
    assert (outcome.state, outcome.error_message) == (state, error)
    assert (outcome.result is not None) is (state is S.COMPLETED)


def test_outcome_error_given_apart_wins_over_results_and_loses_nul_characters() -> None:
    # Act
    outcome = outcome_from_report("failed", {"error": "in results"}, error="out\x00side")

    # Assert
    assert (outcome.state, outcome.error_message) == (S.FAILED, "outside")


def test_result_keeps_metrics_and_moves_the_rest_to_details() -> None:
    # Act
    result = result_from_report(
        {"total_return": 0.12, "win_rate": 0.6, "total_trades": 42, "sharpe_ratio": True,
         "max_drawdown": "big", "per_pattern": {"Doji": {"trades": 3}}}
    )  # fmt: skip

    # Assert
    assert (result.total_return, result.win_rate, result.total_trades) == (0.12, 0.6, 42)
    assert result.sharpe_ratio == 0.0  # a bool is not a ratio
    assert result.details == {
        "sharpe_ratio": True,
        "max_drawdown": "big",
        "per_pattern": {"Doji": {"trades": 3}},
    }


# --- BacktestJobs with an in-memory store -------------------------------------------------------------


class MemoryBacktestStore:
    """The store's contract in memory, using the domain's transition rules."""

    def __init__(self) -> None:
        self.rows: dict[str, Backtest] = {}
        self.progress_writes: list[tuple[str, ...]] = []
        self.fail_next_progress_write = False

    async def insert(self, backtest: Backtest) -> Backtest:
        self.rows[backtest.backtest_id] = backtest
        return backtest

    async def get(self, user: str, backtest_id: str) -> Backtest:
        row = self.rows.get(backtest_id)
        if row is None or row.user != user:
            raise NotFoundError(f"no backtest {backtest_id!r}")
        return row

    async def list(self, user: str, *, page_size: int = 0, page_token: str = "") -> BacktestPage:
        rows = sorted((r for r in self.rows.values() if r.user == user), key=lambda r: -r.create_ns)
        return BacktestPage(backtests=tuple(rows), next_page_token="")

    async def cancel(self, user: str, backtest_id: str, *, now_ns: int) -> tuple[Backtest, bool]:
        row = await self.get(user, backtest_id)
        cancelled = with_outcome(row, BacktestOutcome(state=S.CANCELLED), now_ns=now_ns)
        if cancelled is None:
            return row, False
        self.rows[backtest_id] = cancelled
        return cancelled, True

    async def record_progress(self, reports: Sequence[ProgressReport]) -> frozenset[str]:
        if self.fail_next_progress_write:
            self.fail_next_progress_write = False
            raise DependencyUnavailableError("PostgreSQL is unavailable")
        self.progress_writes.append(tuple(report.backtest_id for report in reports))
        applied = set()
        for report in reports:
            row = self.rows.get(report.backtest_id)
            updated = None if row is None else with_progress(row, report)
            if updated is not None:
                self.rows[report.backtest_id] = updated
                applied.add(report.backtest_id)
        return frozenset(applied)

    async def record_outcome(
        self, backtest_id: str, outcome: BacktestOutcome, *, now_ns: int
    ) -> Backtest | None:
        row = self.rows.get(backtest_id)
        ended = None if row is None else with_outcome(row, outcome, now_ns=now_ns)
        if ended is not None:
            self.rows[backtest_id] = ended
        return ended


class RecordingPublisher:
    """Records what is published; answers with a chosen receiver count or error."""

    def __init__(self, receivers: int = 1, error: Exception | None = None) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.receivers = receivers
        self.error = error

    async def publish(self, channel: str, message: str, /) -> int:
        if self.error is not None:
            raise self.error
        self.messages.append((channel, json.loads(message)))
        return self.receivers


def _jobs(
    publisher: RecordingPublisher | None = None, **config: Any
) -> tuple[BacktestJobs, MemoryBacktestStore, RecordingPublisher]:
    store = MemoryBacktestStore()
    publisher = publisher or RecordingPublisher()
    jobs = BacktestJobs(
        store=store, publisher=publisher, config=BacktestJobsConfig(**config), clock_ns=lambda: NOW_NS
    )
    return jobs, store, publisher


async def _until(condition: Callable[[], bool]) -> None:
    """Yield to the event loop until `condition` holds, for at most about ten seconds."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never held")


async def test_submit_stores_queued_job_and_publishes_it_in_the_original_shape() -> None:
    # Arrange
    jobs, store, publisher = _jobs()

    # Act
    backtest = await jobs.submit("alice", _submission(symbols=("msft", "AAPL")))

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
    jobs, store, publisher = _jobs()

    # Act / Assert
    with pytest.raises(InvalidRequestError):
        await jobs.submit("alice", _submission(symbols=()))
    assert (store.rows, publisher.messages) == ({}, [])


async def test_submit_nobody_listening_fails_the_job() -> None:
    # Arrange
    jobs, store, _ = _jobs(RecordingPublisher(receivers=0))

    # Act
    backtest = await jobs.submit("alice", _submission())

    # Assert
    assert backtest.state is S.FAILED
    assert "no backtest worker" in backtest.error_message
    assert store.rows[backtest.backtest_id].state is S.FAILED
    assert jobs.stats().unheard == 1


async def test_submit_redis_down_raises_unavailable_and_fails_the_job() -> None:
    # Arrange
    jobs, store, _ = _jobs(RecordingPublisher(error=RedisConnectionError("refused")))

    # Act / Assert
    with pytest.raises(DependencyUnavailableError):
        await jobs.submit("alice", _submission())
    assert [row.state for row in store.rows.values()] == [S.FAILED]
    assert jobs.stats().publish_failures == 1


async def test_progress_then_outcome_complete_the_job() -> None:
    # Arrange
    jobs, store, _ = _jobs()
    backtest = await jobs.submit("alice", _submission())

    # Act
    jobs.apply_progress(backtest.backtest_id, 0.5, "MSFT", NOW_NS + 10**9)
    await jobs.flush()
    running = store.rows[backtest.backtest_id]
    jobs.apply_outcome(backtest.backtest_id, "completed", {"total_return": 0.1, "total_trades": 3})
    await jobs.flush()

    # Assert
    assert (running.state, running.progress, running.current_symbol) == (S.RUNNING, 0.5, "MSFT")
    done = await jobs.get("alice", backtest.backtest_id)
    assert (done.state, done.progress) == (S.COMPLETED, 1.0)
    assert done.result is not None and (done.result.total_return, done.result.total_trades) == (0.1, 3)
    assert jobs.stats().completed == 1


async def test_get_shows_progress_not_yet_written() -> None:
    # Arrange
    jobs, store, _ = _jobs()
    backtest = await jobs.submit("alice", _submission())

    # Act
    jobs.apply_progress(backtest.backtest_id, 0.25, "AAPL")
    seen = await jobs.get("alice", backtest.backtest_id)

    # Assert
    assert store.rows[backtest.backtest_id].state is S.QUEUED
    assert (seen.state, seen.progress) == (S.RUNNING, 0.25)


async def test_late_progress_and_outcome_after_cancel_are_ignored_and_counted() -> None:
    # Arrange
    jobs, store, publisher = _jobs()
    backtest = await jobs.submit("alice", _submission())
    cancelled = await jobs.cancel("alice", backtest.backtest_id)

    # Act
    jobs.apply_progress(backtest.backtest_id, 0.9, "AAPL")
    jobs.apply_outcome(backtest.backtest_id, "completed", {})
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
    jobs, store, _ = _jobs()
    backtest = await jobs.submit("alice", _submission())
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
    jobs, _, publisher = _jobs()
    backtest = await jobs.submit("alice", _submission())
    await jobs.cancel("alice", backtest.backtest_id)

    # Act
    again = await jobs.cancel("alice", backtest.backtest_id)

    # Assert
    assert again.state is S.CANCELLED
    assert [channel for channel, _ in publisher.messages].count("tickstock.jobs.cancel") == 1


async def test_cancel_completed_job_raises_invalid_request_on_backtest_id() -> None:
    # Arrange
    jobs, _, _ = _jobs()
    backtest = await jobs.submit("alice", _submission())
    jobs.apply_outcome(backtest.backtest_id, "completed", {})
    await jobs.flush()

    # Act / Assert
    with pytest.raises(InvalidRequestError) as caught:
        await jobs.cancel("alice", backtest.backtest_id)
    assert [violation.field for violation in caught.value.violations] == ["backtest_id"]


async def test_another_users_job_is_not_found() -> None:
    # Arrange
    jobs, _, _ = _jobs()
    backtest = await jobs.submit("alice", _submission())

    # Act / Assert
    with pytest.raises(NotFoundError):
        await jobs.get("bob", backtest.backtest_id)
    with pytest.raises(NotFoundError):
        await jobs.cancel("bob", backtest.backtest_id)
    with pytest.raises(NotFoundError):
        await anext(jobs.watch("bob", backtest.backtest_id))


async def test_writer_writes_progress_at_most_once_per_interval_and_outcomes_at_once() -> None:
    # Arrange
    jobs, store, _ = _jobs(progress_write_interval_s=3600.0)
    first = await jobs.submit("alice", _submission())
    second = await jobs.submit("alice", _submission())
    writer = asyncio.create_task(jobs.run())
    try:
        # Act
        jobs.apply_progress(first.backtest_id, 0.1)
        await _until(lambda: len(store.progress_writes) == 1)
        for step in range(2, 10):
            jobs.apply_progress(first.backtest_id, step / 10)
            jobs.apply_progress(second.backtest_id, step / 10)
        jobs.apply_outcome(second.backtest_id, "completed", {})
        await _until(lambda: store.rows[second.backtest_id].state is S.COMPLETED)
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
    jobs, store, _ = _jobs()
    backtest = await jobs.submit("alice", _submission())
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


# --- watching -----------------------------------------------------------------------------------------


async def test_watch_yields_current_state_then_changes_until_final() -> None:
    # Arrange
    jobs, _, _ = _jobs()
    backtest = await jobs.submit("alice", _submission())
    states = jobs.watch("alice", backtest.backtest_id)

    # Act
    first = await anext(states)
    jobs.apply_progress(backtest.backtest_id, 0.5, "MSFT")
    second = await anext(states)
    jobs.apply_outcome(backtest.backtest_id, "failed", {"error": "no data"})
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
    jobs, _, _ = _jobs()
    backtest = await jobs.submit("alice", _submission())
    states = jobs.watch("alice", backtest.backtest_id)
    await anext(states)

    # Act: five changes while the watcher does not read
    for step in range(1, 6):
        jobs.apply_progress(backtest.backtest_id, step / 10)
    latest = await anext(states)
    for step in range(6, 9):
        jobs.apply_progress(backtest.backtest_id, step / 10)
    jobs.apply_outcome(backtest.backtest_id, "completed", {})
    await jobs.flush()
    rest = [state async for state in states]

    # Assert
    assert latest.progress == 0.5
    assert [(s.state, s.progress) for s in rest] == [(S.COMPLETED, 1.0)]
    assert jobs.stats().states_conflated == 4 + 3


async def test_watch_of_ended_job_yields_it_once() -> None:
    # Arrange
    jobs, _, _ = _jobs()
    backtest = await jobs.submit("alice", _submission())
    await jobs.cancel("alice", backtest.backtest_id)

    # Act
    seen = [state async for state in jobs.watch("alice", backtest.backtest_id)]

    # Assert
    assert [state.state for state in seen] == [S.CANCELLED]


async def test_watchers_share_changes_and_cancel_ends_every_stream() -> None:
    # Arrange
    jobs, _, _ = _jobs()
    backtest = await jobs.submit("alice", _submission())
    one, two = jobs.watch("alice", backtest.backtest_id), jobs.watch("alice", backtest.backtest_id)
    await anext(one)
    await anext(two)

    # Act
    await jobs.cancel("alice", backtest.backtest_id)
    seen_one = [state.state async for state in one]
    seen_two = [state.state async for state in two]

    # Assert
    assert seen_one == seen_two == [S.CANCELLED]


async def test_watch_beyond_user_limit_raises_limit_exceeded() -> None:
    # Arrange
    jobs, _, _ = _jobs(max_watchers_per_user=1)
    backtest = await jobs.submit("alice", _submission())
    first = jobs.watch("alice", backtest.backtest_id)
    await anext(first)

    # Act / Assert
    with pytest.raises(LimitExceededError):
        await anext(jobs.watch("alice", backtest.backtest_id))
    await first.aclose()
    again = jobs.watch("alice", backtest.backtest_id)
    assert (await anext(again)).state is S.QUEUED
    await again.aclose()
