"""Producer updates of backtests: progress and outcomes, shown to watchers at once, written soon after.

Progress is written at most once per `BacktestJobsConfig.progress_write_interval_s`, in one statement for
every job that reported since the last write; outcomes are written as soon as `run` sees them. Both wait
in bounded maps (one entry per job: a newer report replaces an older one) while PostgreSQL is down.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace

from tickstock_server.backtests.config import BacktestJobsConfig
from tickstock_server.backtests.watch import WatchRegistry
from tickstock_server.domain.backtests import (
    Backtest,
    BacktestOutcome,
    ProgressReport,
    clamp_progress,
    with_progress,
)
from tickstock_server.errors import DependencyUnavailableError, NotFoundError
from tickstock_server.ports.backtests import BacktestStore

_logger = logging.getLogger(__name__)

_MAX_SYMBOL_CHARS = 32  # a producer's "current_symbol" longer than any ticker is cut, not stored whole


class BacktestUpdates:
    """Applies the producer's progress and outcomes; a final state is final, late messages are counted."""

    def __init__(
        self,
        *,
        store: BacktestStore,
        watches: WatchRegistry,
        config: BacktestJobsConfig,
        now_ns: Callable[[], int],
        on_final: Callable[[], None],
    ) -> None:
        """Write to `store`, show changes to `watches`, take time from `now_ns`.

        `on_final` (it must not block) is called whenever a job has ended: its place at the producer is
        free.
        """
        self._on_final = on_final
        self._store = store
        self._watches = watches
        self._config = config
        self._now_ns = now_ns
        self._pending_progress: dict[str, ProgressReport] = {}
        self._pending_outcomes: dict[str, tuple[BacktestOutcome, int]] = {}
        self._final_ids: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self.ignored_by_reason: collections.Counter[str] = collections.Counter()
        """Messages not applied, by reason (see `BacktestJobStats.ignored_by_reason`)."""
        self.ended_by_state: collections.Counter[str] = collections.Counter()
        """Outcomes written, by final state value."""
        self.write_failures = 0
        """Failed write attempts (retried)."""

    @property
    def pending_progress(self) -> int:
        """Jobs with progress not yet written."""
        return len(self._pending_progress)

    @property
    def pending_outcomes(self) -> int:
        """Outcomes not yet written."""
        return len(self._pending_outcomes)

    def apply_progress(
        self,
        job_id: str,
        progress: float,
        current_symbol: str = "",
        estimated_completion_ns: int | None = None,
    ) -> None:
        """Take a progress report (fraction 0..1, clamped): watchers see it now, PostgreSQL soon.

        A report for a job that has ended is ignored and counted. Never blocks, never raises.
        """
        clamped = clamp_progress(progress)
        if clamped is None:
            self._ignore("invalid", job_id)
            return
        if job_id in self._final_ids or job_id in self._pending_outcomes:
            self._ignore("final", job_id)
            return
        previous = self._pending_progress.get(job_id)
        if previous is None and len(self._pending_progress) >= self._config.max_pending_updates:
            self._ignore("overflow", job_id)
            return
        report = ProgressReport(
            backtest_id=job_id,
            progress=clamped,
            current_symbol=current_symbol.replace("\x00", "")[:_MAX_SYMBOL_CHARS],
            estimated_completion_ns=estimated_completion_ns,
            reported_ns=self._now_ns(),
        )
        if previous is not None:
            report = _merge(previous, report)
        elif not self._pending_progress:
            self._wake.set()  # the writer may be idle with nothing to wait for
        self._pending_progress[job_id] = report
        latest = self._watches.latest(job_id)
        if latest is not None:
            updated = with_progress(latest, report)
            if updated is not None:
                self._watches.show(updated)

    def apply_outcome(self, job_id: str, outcome: BacktestOutcome) -> None:
        """Take how a job ended, as the producer reported it; written and shown at once.

        A second outcome, or one for a job that has ended, is ignored and counted. Never blocks.
        """
        if job_id in self._final_ids or job_id in self._pending_outcomes:
            self._ignore("final", job_id)
            return
        if len(self._pending_outcomes) >= self._config.max_pending_updates:
            self._ignore("overflow", job_id)
            _logger.error("too many unwritten backtest outcomes; dropped the outcome of %s", job_id)
            return
        self._pending_outcomes[job_id] = (outcome, self._now_ns())
        self._pending_progress.pop(job_id, None)
        self._wake.set()

    async def run(self) -> None:
        """Write outcomes as they come and progress at most every interval, until cancelled.

        While PostgreSQL is unreachable, updates stay pending (bounded) and are retried every interval.
        """
        loop = asyncio.get_running_loop()
        interval_s = self._config.progress_write_interval_s
        next_progress_s = loop.time()
        while True:
            delay_s: float | None = None
            if self._pending_outcomes:
                delay_s = 0.0
            elif self._pending_progress:
                delay_s = max(0.0, next_progress_s - loop.time())
            if delay_s != 0.0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay_s):
                        await self._wake.wait()
            self._wake.clear()
            try:
                async with self._write_lock:
                    await self._write_outcomes()
                    if self._pending_progress and loop.time() >= next_progress_s:
                        next_progress_s = loop.time() + interval_s
                        await self._write_progress()
            except DependencyUnavailableError as exc:
                self.write_failures += 1
                _logger.warning("cannot write backtest updates (%s); retrying in %.1f s", exc, interval_s)
                await asyncio.sleep(interval_s)

    async def flush(self) -> None:
        """Write every pending outcome and progress report now (for shutdown, after the consumer stops).

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable; the updates stay pending.
        """
        async with self._write_lock:
            await self._write_outcomes()
            await self._write_progress()

    async def _write_outcomes(self) -> None:
        while self._pending_outcomes:
            job_id, (outcome, reported_ns) = next(iter(self._pending_outcomes.items()))
            try:
                backtest = await self._store.record_outcome(job_id, outcome, now_ns=reported_ns)
            except DependencyUnavailableError:
                raise
            except Exception:
                # A value the database refuses would otherwise be retried forever, blocking the rest.
                _logger.exception("cannot write the outcome of backtest %s; dropped it", job_id)
                backtest = None
            del self._pending_outcomes[job_id]  # only this coroutine (under the lock) removes entries
            self._remember_final(job_id)
            if backtest is None:
                self._ignore("not_active", job_id)
                continue
            self.ended_by_state[backtest.state.value] += 1
            _logger.info("backtest %s %s", job_id, backtest.state.value)
            self._watches.show(backtest)
            self._on_final()

    async def _write_progress(self) -> None:
        reports = tuple(self._pending_progress.values())
        if not reports:
            return
        self._pending_progress.clear()
        try:
            applied = await self._store.record_progress(reports)
        except (DependencyUnavailableError, asyncio.CancelledError):
            # Kept for the retry, or for `flush` after a cancelled `run`, unless a newer report or the
            # outcome came meanwhile.
            for report in reports:
                job_id = report.backtest_id
                if job_id not in self._final_ids and job_id not in self._pending_outcomes:
                    newer = self._pending_progress.get(job_id)
                    self._pending_progress[job_id] = report if newer is None else _merge(report, newer)
            raise
        except Exception:
            # Progress is superseded by the next report anyway; never let one bad batch stop the writer.
            _logger.exception("cannot write the progress of %d backtests; dropped it", len(reports))
            return
        for report in reports:
            if report.backtest_id in applied:
                continue
            # Unknown, or ended where this replica could not see it (another replica's cancel).
            self._ignore("not_active", report.backtest_id)
            self._remember_final(report.backtest_id)
            latest = self._watches.latest(report.backtest_id)
            if latest is not None:
                with contextlib.suppress(NotFoundError):
                    self._watches.show(await self._store.get(latest.user, report.backtest_id))

    def ended(self, backtest: Backtest) -> None:
        """Note a job that ended through TickStock (cancelled, or failed to queue); show it to watchers."""
        self._pending_progress.pop(backtest.backtest_id, None)
        self._remember_final(backtest.backtest_id)
        self._watches.show(backtest)
        self._on_final()

    def overlay(self, backtest: Backtest) -> Backtest:
        """`backtest` with the progress not yet written to the store."""
        report = self._pending_progress.get(backtest.backtest_id)
        return backtest if report is None else with_progress(backtest, report) or backtest

    def _remember_final(self, job_id: str) -> None:
        self._final_ids[job_id] = None
        self._final_ids.move_to_end(job_id)
        while len(self._final_ids) > self._config.remembered_final_jobs:
            self._final_ids.popitem(last=False)

    def _ignore(self, reason: str, job_id: str) -> None:
        self.ignored_by_reason[reason] += 1
        _logger.debug("ignored a producer message for backtest %s (%s)", job_id, reason)


def _merge(older: ProgressReport, newer: ProgressReport) -> ProgressReport:
    """`newer`, keeping what it did not report (symbol, estimate) from `older`."""
    return replace(
        newer,
        current_symbol=newer.current_symbol or older.current_symbol,
        estimated_completion_ns=(
            older.estimated_completion_ns
            if newer.estimated_completion_ns is None
            else newer.estimated_completion_ns
        ),
    )
