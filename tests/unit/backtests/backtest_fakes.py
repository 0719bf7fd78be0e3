"""Backtest jobs over an in-memory store and a recording publisher, for the unit tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from tickstock_server.backtests.config import BacktestJobsConfig
from tickstock_server.backtests.jobs import BacktestJobs
from tickstock_server.domain.backtest_requests import BacktestSubmission
from tickstock_server.domain.backtests import (
    Backtest,
    BacktestOutcome,
    BacktestPage,
    BacktestResult,
    BacktestState,
    ProgressReport,
    with_outcome,
    with_progress,
)
from tickstock_server.errors import (
    DependencyUnavailableError,
    NotFoundError,
)

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


def make_jobs(
    publisher: RecordingPublisher | None = None, **config: Any
) -> tuple[BacktestJobs, MemoryBacktestStore, RecordingPublisher]:
    store = MemoryBacktestStore()
    publisher = publisher or RecordingPublisher()
    jobs = BacktestJobs(
        store=store, publisher=publisher, config=BacktestJobsConfig(**config), clock_ns=lambda: NOW_NS
    )
    return jobs, store, publisher


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the event loop until `condition` holds, for at most about ten seconds."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never held")
