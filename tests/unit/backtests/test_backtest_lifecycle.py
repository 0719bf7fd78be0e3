"""Backtest states: allowed transitions, and what progress and outcomes do to a backtest.

How a producer's result message becomes an outcome is tested with its parser (`test_producer_reports`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest
from backtest_fakes import (
    NOW_NS,
    S,
)

from tickstock_server.domain.backtests import (
    Backtest,
    BacktestOutcome,
    BacktestParameters,
    BacktestState,
    ProgressReport,
    can_transition,
    with_outcome,
    with_progress,
)

# --- transitions, progress and outcomes ----------------------------------------------------------------


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
