"""Fair dispatch of queued backtests to the producer: a bound on jobs in flight, round robin across users.

The producer (TickStockPL) runs a limited number of jobs at once and answers any job beyond it with a
failed result ("producer busy"). So a submitted job is stored QUEUED and waits in the store until fewer
than `BacktestJobsConfig.max_in_flight` jobs are in flight; then the next job goes to the producer. The
next job is the oldest waiting job of the user with the fewest jobs in flight and, among those, of the
user served longest ago (round robin), so one user's many jobs never starve another user's single job.
The queue lives in the store (PostgreSQL), so every server process shares one bound, and queued jobs
survive a restart and are dispatched after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from tickstock_server.backtests.config import BacktestJobsConfig
from tickstock_server.backtests.updates import BacktestUpdates
from tickstock_server.domain.backtests import Backtest, BacktestOutcome, BacktestState
from tickstock_server.errors import DependencyUnavailableError
from tickstock_server.ports.backtests import BacktestRequestPublisher, BacktestStore
from tickstock_server.support.time_units import NS_PER_S

_logger = logging.getLogger(__name__)


class BacktestDispatcher:
    """Hands QUEUED jobs to the producer while fewer than `max_in_flight` are there; run `run()`."""

    def __init__(
        self,
        *,
        store: BacktestStore,
        publisher: BacktestRequestPublisher,
        updates: BacktestUpdates,
        config: BacktestJobsConfig,
        now_ns: Callable[[], int],
    ) -> None:
        """Claim jobs from `store`, publish them with `publisher`, show failures through `updates`."""
        self._store = store
        self._publisher = publisher
        self._updates = updates
        self._config = config
        self._now_ns = now_ns
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self.dispatched = 0
        """Jobs handed to the producer."""
        self.unheard = 0
        """Jobs no producer was subscribed to receive; they were marked FAILED."""
        self.publish_failures = 0
        """Jobs the producer's Redis could not take; they went back to the queue."""

    def wake(self) -> None:
        """Ask `run` for a pass now: a job was queued or ended."""
        self._wake.set()

    async def dispatch(self) -> dict[str, Backtest]:
        """Hand jobs to the producer until `max_in_flight` are there or none waits.

        Returns:
            The jobs this pass handled, by id: QUEUED when handed over, FAILED when nobody listened.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable (Redis being down ends the pass
                quietly: the job goes back to the queue and is retried).
        """
        handled: dict[str, Backtest] = {}
        silence_ns = round(self._config.dispatch_silence_s * NS_PER_S)
        async with self._lock:
            while True:
                now_ns = self._now_ns()
                backtest = await self._store.claim_next(
                    max_in_flight=self._config.max_in_flight,
                    heard_since_ns=now_ns - silence_ns,
                    now_ns=now_ns,
                )
                if backtest is None:
                    return handled
                try:
                    receivers = await self._publisher.publish_job(backtest)
                except DependencyUnavailableError:
                    self.publish_failures += 1
                    await self._store.release_claim(backtest.backtest_id)
                    _logger.warning(
                        "cannot hand backtest %s to the producer: Redis is unavailable", backtest.backtest_id
                    )
                    return handled
                handled[backtest.backtest_id] = await self._handed(backtest, receivers)

    async def run(self) -> None:
        """Dispatch whenever woken, and at least every `dispatch_poll_s`, until cancelled."""
        poll_s = self._config.dispatch_poll_s
        while True:
            self._wake.clear()
            try:
                await self.dispatch()
            except DependencyUnavailableError as exc:
                _logger.warning("cannot dispatch backtests (%s); retrying in %.1f s", exc, poll_s)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_s):
                    await self._wake.wait()

    async def _handed(self, backtest: Backtest, receivers: int) -> Backtest:
        if receivers > 0:
            self.dispatched += 1
            _logger.info("backtest %s of %s handed to the producer", backtest.backtest_id, backtest.user)
            return backtest
        self.unheard += 1
        destination = self._publisher.job_destination
        _logger.warning(
            "no backtest worker listens on %s; backtest %s failed", destination, backtest.backtest_id
        )
        outcome = BacktestOutcome(
            state=BacktestState.FAILED,
            error_message=f"no backtest worker (TickStockPL) is listening on {destination}; try again later",
        )
        failed = await self._store.record_outcome(backtest.backtest_id, outcome, now_ns=self._now_ns())
        if failed is None:
            return backtest
        self._updates.ended(failed)
        return failed
