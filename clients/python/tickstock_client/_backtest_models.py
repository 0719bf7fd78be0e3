"""What BacktestService takes and returns: backtests, their state, parameters and results.

Frozen dataclasses like those of `_models`: times are aware UTC datetimes, days `datetime.date`s, and a
state this client does not know reads as `BacktestState.UNKNOWN`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

__all__ = ["Backtest", "BacktestParameters", "BacktestResult", "BacktestState"]


class BacktestState(enum.Enum):
    """Where a backtest is in its life: queued, running, then completed, failed or cancelled."""

    UNKNOWN = "unknown"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """Whether the backtest has ended: no further state follows."""
        return self in (BacktestState.COMPLETED, BacktestState.FAILED, BacktestState.CANCELLED)


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestParameters:
    """Trading parameters of a backtest; fractions, not percent. The defaults are the server's.

    A zero cannot be sent: the API reads 0 as "the default".
    """

    initial_capital: float = 100_000.0
    """Starting capital in US dollars."""
    commission_rate: float = 0.001
    """Commission as a fraction of traded value, up to 0.01."""
    slippage_rate: float = 0.0005
    """Slippage as a fraction of price, up to 0.01."""
    max_position_size: float = 0.1
    """Largest position as a fraction of capital, up to 1."""
    stop_loss_pct: float = 0.05
    """Stop loss as a fraction of the entry price (0.05 = 5 %), up to 1."""
    take_profit_pct: float = 0.10
    """Take profit as a fraction of the entry price (0.10 = 10 %), up to 10."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestResult:
    """The results of a completed backtest."""

    total_return: float
    """Total return as a fraction of the initial capital."""
    win_rate: float
    """Fraction of winning trades, 0 to 1."""
    total_trades: int
    sharpe_ratio: float
    max_drawdown: float
    """Maximum drawdown as a fraction, 0 to 1."""
    details: dict[str, Any]
    """Everything else the producer reported, as JSON values (every number a float)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Backtest:
    """One of the caller's backtests, in the state the server last knew."""

    backtest_id: str
    state: BacktestState
    symbols: tuple[str, ...]
    start_date: date | None
    """First day, inclusive."""
    end_date: date | None
    """Last day, inclusive."""
    patterns: tuple[str, ...]
    """Pattern names tested."""
    parameters: BacktestParameters
    progress: float
    """Fraction done, 0 to 1."""
    current_symbol: str
    """The symbol the producer works on ("" when none)."""
    estimated_completion_time: datetime | None
    """The producer's estimate of completion, when it gave one."""
    result: BacktestResult | None
    """The results, once COMPLETED."""
    error_message: str
    """Why it FAILED ("" otherwise)."""
    create_time: datetime | None
    update_time: datetime | None
