"""Backtest jobs over the in-memory store and publisher, for the unit tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from tickstock_server.adapters.memory.backtests import MemoryBacktestRequests, MemoryBacktestStore
from tickstock_server.backtests.config import BacktestJobsConfig
from tickstock_server.backtests.jobs import BacktestJobs
from tickstock_server.domain.backtest_requests import BacktestSubmission
from tickstock_server.domain.backtests import (
    BacktestOutcome,
    BacktestResult,
    BacktestState,
    ProgressReport,
)
from tickstock_server.errors import DependencyUnavailableError

TODAY = dt.date(2026, 1, 6)
NOW_NS = 1_767_700_800_000_000_000  # 2026-01-06T12:00:00Z
S = BacktestState


def submission(**changes: Any) -> BacktestSubmission:
    """A valid submission with `changes` applied."""
    base = BacktestSubmission(
        symbols=("AAPL", "MSFT"),
        start_date=(2025, 1, 2),
        end_date=(2025, 12, 31),
        patterns=("Bull_Flag", "Doji"),
    )
    return replace(base, **changes)


def completed(**metrics: Any) -> BacktestOutcome:
    """The producer's outcome of a completed job with `metrics` (`BacktestResult` fields)."""
    return BacktestOutcome(state=S.COMPLETED, result=BacktestResult(**metrics))


def failed(message: str) -> BacktestOutcome:
    """The producer's outcome of a failed job."""
    return BacktestOutcome(state=S.FAILED, error_message=message)


class RecordingBacktestStore(MemoryBacktestStore):
    """The memory store that also records each progress write and can fail the next one."""

    def __init__(self) -> None:
        super().__init__()
        self.progress_writes: list[tuple[str, ...]] = []
        self.fail_next_progress_write = False

    async def record_progress(self, reports: Sequence[ProgressReport]) -> frozenset[str]:
        if self.fail_next_progress_write:
            self.fail_next_progress_write = False
            raise DependencyUnavailableError("PostgreSQL is unavailable")
        self.progress_writes.append(tuple(report.backtest_id for report in reports))
        return await super().record_progress(reports)


def make_jobs(
    publisher: MemoryBacktestRequests | None = None,
    *,
    clock_ns: Callable[[], int] = lambda: NOW_NS,
    **config: Any,
) -> tuple[BacktestJobs, RecordingBacktestStore, MemoryBacktestRequests]:
    """Jobs over a fresh store and `publisher`, with `config`; the clock stands at `NOW_NS` by default."""
    store = RecordingBacktestStore()
    publisher = publisher or MemoryBacktestRequests()
    jobs = BacktestJobs(
        store=store, publisher=publisher, config=BacktestJobsConfig(**config), clock_ns=clock_ns
    )
    return jobs, store, publisher
