"""What the pattern producer (TickStockPL) reports besides patterns: backtest progress and outcome, health."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["BacktestOutcome", "BacktestProgress", "BacktestStatus", "PatternExpiry", "ProducerHealth"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternExpiry:
    """A ``pattern_expired`` notice: accepted and ignored (the cache expires patterns by their own time)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestProgress:
    """Progress of a running backtest job."""

    job_id: str
    """The job's id, as TickStock assigned it when it submitted the job."""
    progress: float
    """Fraction done, 0 to 1 (0.25 = a quarter)."""
    current_symbol: str | None
    """Symbol being tested now, when reported."""
    estimated_completion_ns: int | None
    """Expected completion time, UTC epoch ns, when reported."""
    received_ns: int
    """When TickStock received the message, UTC epoch ns."""


class BacktestStatus(enum.Enum):
    """How a backtest job ended."""

    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestOutcome:
    """The result of a finished backtest job.

    The metrics are passed on as the producer reports them, in its units (not converted); each is None
    when the producer did not report it.
    """

    job_id: str
    """The job's id, as TickStock assigned it when it submitted the job."""
    status: BacktestStatus
    """COMPLETED for "completed" (also when no status was sent, as the original assumed), CANCELLED for
    "cancelled"/"canceled", FAILED for any other status."""
    status_text: str
    """The status exactly as the producer sent it ("completed" when it sent none)."""
    total_return: float | None
    win_rate: float | None
    total_trades: int | None
    sharpe_ratio: float | None
    max_drawdown: float | None
    error: str | None
    """The producer's error message for a failed job, when it sent one."""
    results: Mapping[str, object]
    """The whole ``results`` object as sent (JSON values; the metrics above included), read-only at its
    top level."""
    received_ns: int
    """When TickStock received the message, UTC epoch ns."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProducerHealth:
    """A ``system_health`` report of the producer."""

    source: str
    """Who reported, e.g. "TickStockPL" ("" when not said)."""
    status: str | None
    """The reported status (e.g. "healthy", "degraded"), when the report has one."""
    reported_ns: int
    """When the producer sent the report, UTC epoch ns (the receive time when it sent none)."""
    details: Mapping[str, object]
    """The report's ``data`` object as sent (JSON values), read-only at its top level."""
    received_ns: int
    """When TickStock received the message, UTC epoch ns."""
