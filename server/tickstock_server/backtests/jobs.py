"""Backtest jobs: queued with the producer (TickStockPL), kept in a store, progress streamed to owners.

How a job moves::

    submit -> validate -> quota -> store (QUEUED)                        (service.py)
    fair queue in the store -> publish to the producer, a bounded number at a time,
        round robin across users (the submit's own pass, then `run_dispatcher`)  (dispatch.py)
    producer progress/result -> consumer -> apply_progress / apply_outcome (sync, no I/O)
        -> watchers of the job see the change; run() writes it to the store   (updates.py)
    cancel -> store (CANCELLED) -> publish the cancellation to the producer   (service.py)

A final state is final: a late progress message or a second outcome is ignored and counted
(`BacktestJobStats.ignored_by_reason`).

Each replica applies every producer message it receives (pub/sub delivers to all of them; the writes
are idempotent) and notifies its own watchers. A cancel made on another replica reaches this replica's
watchers when its next progress write for that job finds the job no longer active.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from tickstock_server.backtests.config import BacktestJobsConfig, BacktestJobStats
from tickstock_server.backtests.dispatch import BacktestDispatcher
from tickstock_server.backtests.service import BacktestService
from tickstock_server.backtests.updates import BacktestUpdates
from tickstock_server.backtests.watch import WatchRegistry
from tickstock_server.domain.backtests import BacktestOutcome, BacktestState
from tickstock_server.ports.backtests import BacktestRequestPublisher, BacktestStore
from tickstock_server.support.metric_samples import MetricSample
from tickstock_server.support.time_units import NS_PER_US


class BacktestJobs:
    """The backtests of one server: the users' `service`, and the producer's updates. Run `run()`."""

    def __init__(
        self,
        *,
        store: BacktestStore,
        publisher: BacktestRequestPublisher,
        config: BacktestJobsConfig | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        """Keep jobs in `store`, publish to the producer through `publisher`, take time from `clock_ns`."""
        self._config = config or BacktestJobsConfig()
        self._clock_ns = clock_ns
        self._watches = WatchRegistry(max_watchers_per_user=self._config.max_watchers_per_user)
        self._updates = BacktestUpdates(
            store=store,
            watches=self._watches,
            config=self._config,
            now_ns=self._now_ns,
            on_final=self._job_ended,
        )
        self._dispatcher = BacktestDispatcher(
            store=store, publisher=publisher, updates=self._updates, config=self._config, now_ns=self._now_ns
        )
        self.service = BacktestService(
            store=store,
            publisher=publisher,
            dispatcher=self._dispatcher,
            updates=self._updates,
            watches=self._watches,
            max_active_per_user=self._config.max_active_per_user,
            now_ns=self._now_ns,
        )
        """What users do with their backtests (the BacktestService servicer calls it)."""

    # --- producer messages (called by the pattern consumer) -----------------------------------------

    def apply_progress(
        self,
        job_id: str,
        progress: float,
        current_symbol: str = "",
        estimated_completion_ns: int | None = None,
    ) -> None:
        """Take a progress report (fraction 0..1, clamped): watchers see it now, the store soon.

        A report for a job that has ended is ignored and counted. Never blocks, never raises.
        """
        self._updates.apply_progress(job_id, progress, current_symbol, estimated_completion_ns)

    def apply_outcome(self, job_id: str, outcome: BacktestOutcome) -> None:
        """Take how a job ended, as the producer reported it: `run` writes it and then shows it to watchers.

        A second outcome, or one for a job that has ended, is ignored and counted. Never blocks.
        """
        self._updates.apply_outcome(job_id, outcome)

    async def run(self) -> None:
        """Write producer updates to the store until cancelled (see `BacktestUpdates.run`)."""
        await self._updates.run()

    async def run_dispatcher(self) -> None:
        """Hand queued jobs to the producer as places free up, until cancelled (see `BacktestDispatcher`).

        Its first pass dispatches the jobs queued before a restart.
        """
        await self._dispatcher.run()

    async def dispatch(self) -> None:
        """One dispatch pass now (what `run_dispatcher` does when woken).

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        await self._dispatcher.dispatch()

    async def flush(self) -> None:
        """Write every pending update now: at shutdown, after the consumer stopped.

        Raises:
            DependencyUnavailableError: The store is unreachable; the updates stay pending.
        """
        await self._updates.flush()

    def stats(self) -> BacktestJobStats:
        """A snapshot of the counters."""
        service = self.service
        updates = self._updates
        dispatcher = self._dispatcher
        return BacktestJobStats(
            submitted=service.submitted,
            refused_over_quota=service.refused_over_quota,
            dispatched=dispatcher.dispatched,
            unheard=dispatcher.unheard,
            cancelled=service.cancelled,
            completed=updates.ended_by_state[BacktestState.COMPLETED.value],
            failed=updates.ended_by_state[BacktestState.FAILED.value],
            publish_failures=dispatcher.publish_failures + service.cancel_publish_failures,
            write_failures=updates.write_failures,
            ignored_by_reason=dict(updates.ignored_by_reason),
            pending_progress=updates.pending_progress,
            pending_outcomes=updates.pending_outcomes,
            watchers=self._watches.watchers,
            states_conflated=self._watches.replaced,
        )

    def metric_samples(self) -> Sequence[MetricSample]:
        """The samples of `stats`."""
        return self.stats().metric_samples()

    def _job_ended(self) -> None:
        self._dispatcher.wake()

    def _now_ns(self) -> int:
        # PostgreSQL keeps microseconds; flooring here makes memory and database agree exactly.
        return self._clock_ns() // NS_PER_US * NS_PER_US
