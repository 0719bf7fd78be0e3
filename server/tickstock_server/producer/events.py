"""What the pattern producer (TickStockPL) reports besides patterns: backtest progress, health.

A backtest outcome parses straight into the domain's `OutcomeReport` (`tickstock_server.domain.backtests`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["BacktestProgress", "PatternExpiry", "ProducerHealth"]


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
