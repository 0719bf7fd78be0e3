"""Backtests: the job, its parameters and results, and its lifecycle (legal state changes)."""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

MAX_ERROR_MESSAGE_CHARS = 1000
"""Longest error message kept from the producer; longer ones are cut."""


class BacktestState(enum.Enum):
    """Lifecycle state of a backtest; the values are the producer's status strings."""

    QUEUED = "queued"
    """Submitted, not started."""
    RUNNING = "running"
    """The producer reported progress."""
    COMPLETED = "completed"
    """Finished with results (final)."""
    FAILED = "failed"
    """Finished with an error (final)."""
    CANCELLED = "cancelled"
    """Cancelled by its owner (final)."""

    @property
    def is_final(self) -> bool:
        """Whether no further change is possible."""
        return self in _FINAL_STATES


_FINAL_STATES = frozenset({BacktestState.COMPLETED, BacktestState.FAILED, BacktestState.CANCELLED})
_NEXT_STATES: Mapping[BacktestState, frozenset[BacktestState]] = {
    BacktestState.QUEUED: frozenset(BacktestState) - {BacktestState.QUEUED},
    BacktestState.RUNNING: frozenset(BacktestState) - {BacktestState.QUEUED},
    BacktestState.COMPLETED: frozenset(),
    BacktestState.FAILED: frozenset(),
    BacktestState.CANCELLED: frozenset(),
}
ACTIVE_STATES = frozenset(BacktestState) - _FINAL_STATES
"""States a backtest can leave: QUEUED and RUNNING."""


def can_transition(current: BacktestState, new: BacktestState) -> bool:
    """Whether a backtest in `current` may move to `new` (RUNNING -> RUNNING is a progress update).

    Final states are final: nothing follows COMPLETED, FAILED or CANCELLED, and nothing returns to QUEUED.
    """
    return new in _NEXT_STATES[current]


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestParameters:
    """Trading parameters of a backtest; the names are the producer's (fractions, not percent)."""

    initial_capital: float = 100_000.0
    """Starting capital in US dollars, above 0 and at most 1e12."""
    commission_rate: float = 0.001
    """Commission as a fraction of traded value, 0 to 0.01."""
    slippage_rate: float = 0.0005
    """Slippage as a fraction of price, 0 to 0.01."""
    max_position_size: float = 0.1
    """Largest position as a fraction of capital, above 0 and at most 1."""
    stop_loss_pct: float = 0.05
    """Stop loss as a fraction of the entry price (0.05 = 5 %), above 0 and at most 1."""
    take_profit_pct: float = 0.10
    """Take profit as a fraction of the entry price (0.10 = 10 %), above 0 and at most 10."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestResult:
    """What the producer reported for a completed backtest."""

    total_return: float = 0.0
    """Total return as a fraction of initial capital."""
    win_rate: float = 0.0
    """Fraction of winning trades, 0 to 1."""
    total_trades: int = 0
    sharpe_ratio: float = 0.0
    max_drawdown: float = 0.0
    """Maximum drawdown as a fraction, 0 to 1."""
    details: Mapping[str, object] = field(default_factory=dict)
    """Everything else the producer reported (JSON values), as it sent it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestOutcome:
    """How a backtest ended, as the producer (or TickStock itself) reported it."""

    state: BacktestState
    """COMPLETED, FAILED or CANCELLED."""
    result: BacktestResult | None = None
    """The results when COMPLETED."""
    error_message: str = ""
    """Why it FAILED."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OutcomeReport:
    """The producer's message that a backtest ended, parsed (`tickstock_server.producer.reports`)."""

    backtest_id: str
    """The job, as TickStock named it when it submitted the job (the producer's ``job_id``)."""
    outcome: BacktestOutcome
    received_ns: int
    """When TickStock received the message, UTC epoch ns."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgressReport:
    """One progress message of the producer for one backtest."""

    backtest_id: str
    progress: float
    """Fraction done, 0 to 1."""
    current_symbol: str
    """Symbol being processed; empty when not reported (the previous one is kept)."""
    estimated_completion_ns: int | None
    """Producer's estimate of completion, UTC epoch ns; None when not reported (the previous is kept)."""
    reported_ns: int
    """When TickStock received it, UTC epoch ns."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Backtest:
    """A backtest job, visible to its owner only."""

    backtest_id: str
    """Server-assigned id, also the producer's ``job_id``."""
    user: str
    """Owner's user name."""
    state: BacktestState
    symbols: tuple[str, ...]
    start_date: dt.date
    end_date: dt.date
    patterns: tuple[str, ...]
    parameters: BacktestParameters
    progress: float = 0.0
    """Fraction done, 0 to 1."""
    current_symbol: str = ""
    """Symbol being processed; empty when not reported."""
    estimated_completion_ns: int | None = None
    """Producer's estimate of completion, UTC epoch ns."""
    result: BacktestResult | None = None
    """Results when COMPLETED."""
    error_message: str = ""
    """Why it FAILED."""
    create_ns: int
    """Submission time, UTC epoch ns."""
    update_ns: int
    """Time of the last change, UTC epoch ns."""


BacktestCursor = tuple[int, str]
"""Where a page of backtests ends: its last backtest's creation time (UTC epoch ns) and id."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestPage:
    """One page of a user's backtests."""

    backtests: tuple[Backtest, ...]
    """Newest first (by creation time, then id)."""
    more: bool
    """Whether older backtests follow."""

    @property
    def cursor(self) -> BacktestCursor | None:
        """Where the next page starts (after this page's last backtest); None on the last page."""
        if not self.more or not self.backtests:
            return None
        last = self.backtests[-1]
        return (last.create_ns, last.backtest_id)


def clamp_progress(progress: float) -> float | None:
    """`progress` limited to 0..1; None when it is not a finite number."""
    if not math.isfinite(progress):
        return None
    return min(max(progress, 0.0), 1.0)


def with_progress(backtest: Backtest, report: ProgressReport) -> Backtest | None:
    """The backtest after a progress report (QUEUED becomes RUNNING); None when it is already final."""
    if not can_transition(backtest.state, BacktestState.RUNNING):
        return None
    return replace(
        backtest,
        state=BacktestState.RUNNING,
        progress=clamp_progress(report.progress) or 0.0,
        current_symbol=report.current_symbol or backtest.current_symbol,
        estimated_completion_ns=(
            backtest.estimated_completion_ns
            if report.estimated_completion_ns is None
            else report.estimated_completion_ns
        ),
        update_ns=max(backtest.update_ns, report.reported_ns),
    )


def with_outcome(backtest: Backtest, outcome: BacktestOutcome, *, now_ns: int) -> Backtest | None:
    """The backtest after it ended; None when it is already final (a late or repeated outcome)."""
    if not can_transition(backtest.state, outcome.state):
        return None
    return replace(
        backtest,
        state=outcome.state,
        progress=1.0 if outcome.state is BacktestState.COMPLETED else backtest.progress,
        result=outcome.result,
        error_message=outcome.error_message,
        update_ns=max(backtest.update_ns, now_ns),
    )


_BACKTEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_backtest_id_shape(backtest_id: str) -> bool:
    """True when `backtest_id` could name a backtest: 1-64 letters, digits, '_' or '-' (no NUL bytes)."""
    return _BACKTEST_ID.fullmatch(backtest_id) is not None
