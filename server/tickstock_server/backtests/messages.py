"""Messages TickStock publishes to the backtest producer (TickStockPL), in the original's JSON shape."""

from __future__ import annotations

import json
from dataclasses import asdict

from tickstock_server.domain.backtests import Backtest
from tickstock_server.support.time_units import NS_PER_S


def job_message(backtest: Backtest, source: str) -> str:
    """The job as the producer expects it on ``tickstock.jobs.backtest`` (the original's shape)."""
    return json.dumps(
        {
            "type": "backtest_job",
            "job_id": backtest.backtest_id,
            "user_id": backtest.user,
            "symbols": list(backtest.symbols),
            "start_date": backtest.start_date.isoformat(),
            "end_date": backtest.end_date.isoformat(),
            "patterns": list(backtest.patterns),
            "parameters": asdict(backtest.parameters),
            "timestamp": backtest.create_ns / NS_PER_S,
            "source": source,
        }
    )


def cancel_message(backtest: Backtest, now_ns: int, source: str) -> str:
    """The cancellation as the producer expects it on ``tickstock.jobs.cancel``."""
    return json.dumps(
        {
            "type": "cancel_job",
            "job_id": backtest.backtest_id,
            "user_id": backtest.user,
            "timestamp": now_ns / NS_PER_S,
            "source": source,
        }
    )
