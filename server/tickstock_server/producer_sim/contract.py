"""The TickStockPL producer's Redis contract: channel and key names and the JSON messages it publishes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tickstock_server.producer.channels import ProducerChannels

__all__ = [
    "PRODUCER_SOURCE",
    "JsonObject",
    "ProducerChannels",
    "backtest_progress_message",
    "backtest_result_message",
    "encode_message",
    "heartbeat_value",
    "system_health_message",
]

JsonObject = dict[str, Any]
"""A JSON object as `json.dumps` takes it."""

PRODUCER_SOURCE = "TickStockPL"
"""The envelopes' `source`."""


def encode_message(message: Mapping[str, Any]) -> str:
    """Compact JSON text of a message, as published."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False)


def heartbeat_value(now_s: float) -> str:
    """Value of the heartbeat key: the epoch seconds as a float literal (the producer writes str(time()))."""
    return repr(float(now_s))


def system_health_message(
    *, now_s: float, uptime_s: float, patterns_published: int, active_backtests: int
) -> JsonObject:
    """A `system_health` envelope for ``tickstock.health.status``.

    Args:
        now_s: Publication time, epoch seconds.
        uptime_s: Seconds since the producer started.
        patterns_published: Pattern envelopes published since the start.
        active_backtests: Backtest jobs running now.
    """
    return {
        "event_type": "system_health",
        "source": PRODUCER_SOURCE,
        "timestamp": round(now_s, 3),
        "data": {
            "status": "healthy",
            "uptime_seconds": round(uptime_s, 1),
            "patterns_published": patterns_published,
            "active_backtests": active_backtests,
            "components": {"pattern_engine": "healthy", "backtest_worker": "healthy", "redis": "healthy"},
        },
    }


def backtest_progress_message(
    *, job_id: str, progress: float, current_symbol: str, estimated_completion_s: float
) -> JsonObject:
    """A progress message for ``tickstock.events.backtesting.progress``.

    Args:
        job_id: The job's id, as the app sent it.
        progress: Fraction done, 0 to 1.
        current_symbol: Symbol being tested.
        estimated_completion_s: Expected end of the job, epoch seconds.
    """
    return {
        "job_id": job_id,
        "progress": round(progress, 4),
        "current_symbol": current_symbol,
        "estimated_completion": round(estimated_completion_s, 3),
    }


def backtest_result_message(*, job_id: str, status: str, results: Mapping[str, Any]) -> JsonObject:
    """A result message for ``tickstock.events.backtesting.results``.

    Args:
        job_id: The job's id, as the app sent it.
        status: "completed", or "failed" for a job the producer could not run.
        results: The metrics of a completed job (see `simulated_backtest_results`), or
            ``{"error": reason}`` for a failed one.
    """
    return {"job_id": job_id, "status": status, "results": dict(results)}
