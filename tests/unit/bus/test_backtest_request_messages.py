"""The job and cancel messages TickStock publishes to the backtest producer keep the original's shape."""

from __future__ import annotations

import datetime as dt
import json

from tickstock_server.bus.backtest_requests import cancel_message, job_message
from tickstock_server.domain.backtests import Backtest, BacktestParameters, BacktestState

NOW_NS = 1_767_700_800_000_000_000  # 2026-01-06T12:00:00Z
BACKTEST = Backtest(
    backtest_id="backtest_1767700800_0123456789abcdef",
    user="alice",
    state=BacktestState.QUEUED,
    symbols=("MSFT", "AAPL"),
    start_date=dt.date(2025, 1, 2),
    end_date=dt.date(2025, 12, 31),
    patterns=("Bull_Flag", "Doji"),
    parameters=BacktestParameters(),
    create_ns=NOW_NS,
    update_ns=NOW_NS,
)


def test_job_message_has_the_original_shape() -> None:
    # Act
    message = json.loads(job_message(BACKTEST, "tickstock"))

    # Assert
    assert message == {
        "type": "backtest_job",
        "job_id": BACKTEST.backtest_id,
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
    }


def test_cancel_message_has_the_original_shape() -> None:
    # Act
    message = json.loads(cancel_message(BACKTEST, NOW_NS + 5 * 10**9, "tickstock"))

    # Assert
    assert message == {
        "type": "cancel_job",
        "job_id": BACKTEST.backtest_id,
        "user_id": "alice",
        "timestamp": NOW_NS / 10**9 + 5,
        "source": "tickstock",
    }
