"""Backtest jobs: queued with the producer (TickStockPL) via Redis, kept in PostgreSQL, streamed to owners.

How a job moves::

    submit -> validate -> PostgreSQL (QUEUED) -> PUBLISH tickstock.jobs.backtest
    producer progress/result -> consumer -> apply_progress / apply_outcome (sync, no I/O)
        -> watchers of the job see the change; run() writes it to PostgreSQL (backtest_updates.py)
    cancel -> PostgreSQL (CANCELLED) -> PUBLISH tickstock.jobs.cancel

A final state is final: a late progress message or a second outcome is ignored and counted
(`BacktestJobStats.ignored_by_reason`).

Each replica applies every producer message it receives (pub/sub delivers to all of them; the writes
are idempotent) and notifies its own watchers. A cancel made on another replica reaches this replica's
watchers when its next progress write for that job finds the job no longer active.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from redis.exceptions import RedisError

from tickstock_server.backtests.config import BacktestJobsConfig, BacktestJobStats
from tickstock_server.backtests.messages import cancel_message, job_message
from tickstock_server.backtests.updates import BacktestUpdates, UpdateStore
from tickstock_server.backtests.watch import Watched, WatchRegistry, supersedes
from tickstock_server.domain.backtest_requests import BacktestSubmission, validate_submission
from tickstock_server.domain.backtests import (
    Backtest,
    BacktestOutcome,
    BacktestPage,
    BacktestState,
    is_backtest_id_shape,
)
from tickstock_server.errors import (
    DependencyUnavailableError,
    FieldViolation,
    InvalidRequestError,
    NotFoundError,
)
from tickstock_server.support.metric_samples import MetricSample
from tickstock_server.support.time_units import NS_PER_S, NS_PER_US

_logger = logging.getLogger(__name__)


class JobPublisher(Protocol):
    """Publishes a message on a channel; `redis.asyncio.Redis` is one."""

    def publish(self, channel: str, message: str, /) -> Awaitable[int]:
        """Publish `message` on `channel`; return how many subscribers received it."""
        ...


class BacktestStore(UpdateStore, Protocol):
    """Where jobs are kept; `tickstock_server.storage.backtests.PgBacktestStore` is one."""

    async def insert(self, backtest: Backtest) -> Backtest:
        """Store a new job; return it as stored."""
        ...

    async def list(self, user: str, *, page_size: int = 0, page_token: str = "") -> BacktestPage:
        """One page of the jobs of `user`, newest first."""
        ...

    async def cancel(self, user: str, backtest_id: str, *, now_ns: int) -> tuple[Backtest, bool]:
        """Cancel an active job of `user`; return it and whether this call cancelled it."""
        ...


class BacktestJobs:
    """Submits, tracks, cancels and streams backtests. Run `run()` in the server's task group."""

    def __init__(
        self,
        *,
        store: BacktestStore,
        publisher: JobPublisher,
        config: BacktestJobsConfig | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        """Keep jobs in `store`, publish to the producer through `publisher`, take time from `clock_ns`."""
        self._store = store
        self._publisher = publisher
        self._config = config or BacktestJobsConfig()
        self._clock_ns = clock_ns
        self._watches = WatchRegistry(max_watchers_per_user=self._config.max_watchers_per_user)
        self._updates = BacktestUpdates(
            store=store, watches=self._watches, config=self._config, now_ns=self._now_ns
        )
        self._submitted = 0
        self._unheard = 0
        self._cancelled = 0
        self._publish_failures = 0

    # --- client calls -------------------------------------------------------------------------------

    async def submit(self, user: str, submission: BacktestSubmission) -> Backtest:
        """Validate, store (QUEUED) and publish a job of `user`.

        Returns:
            The stored job: QUEUED, or FAILED when no producer was subscribed to receive it.

        Raises:
            InvalidRequestError: The submission is invalid (every violation at once).
            DependencyUnavailableError: PostgreSQL or Redis is unreachable (a stored job is marked FAILED).
        """
        now_ns = self._now_ns()
        spec = validate_submission(
            submission, today=dt.datetime.fromtimestamp(now_ns // NS_PER_S, dt.UTC).date()
        )
        backtest = await self._store.insert(
            Backtest(
                backtest_id=f"backtest_{now_ns // NS_PER_S}_{secrets.token_hex(8)}",
                user=user,
                state=BacktestState.QUEUED,
                symbols=spec.symbols,
                start_date=spec.start_date,
                end_date=spec.end_date,
                patterns=spec.patterns,
                parameters=spec.parameters,
                create_ns=now_ns,
                update_ns=now_ns,
            )
        )
        self._submitted += 1
        try:
            receivers = await self._publish(
                self._config.job_channel, job_message(backtest, self._config.source)
            )
        except DependencyUnavailableError:
            await self._fail(backtest, "could not be queued: Redis is unavailable")
            raise
        if receivers > 0:
            _logger.info(
                "backtest %s of %s queued (%d symbols)", backtest.backtest_id, user, len(spec.symbols)
            )
            return backtest
        self._unheard += 1
        _logger.warning(
            "no backtest worker listens on %s; backtest %s failed",
            self._config.job_channel,
            backtest.backtest_id,
        )
        failed = await self._fail(
            backtest,
            f"no backtest worker (TickStockPL) is listening on {self._config.job_channel}; try again later",
        )
        return failed or backtest

    async def get(self, user: str, backtest_id: str) -> Backtest:
        """One job of `user`, with progress not yet written.

        Raises:
            NotFoundError: No such job of `user` (another user's included).
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        _check_id(backtest_id)
        return self._updates.overlay(await self._store.get(user, backtest_id))

    async def list(self, user: str, *, page_size: int = 0, page_token: str = "") -> BacktestPage:
        """One page of the jobs of `user`, newest first (see `PgBacktestStore.list`)."""
        page = await self._store.list(user, page_size=page_size, page_token=page_token)
        return replace(page, backtests=tuple(self._updates.overlay(backtest) for backtest in page.backtests))

    async def cancel(self, user: str, backtest_id: str) -> Backtest:
        """Cancel a QUEUED or RUNNING job of `user` and tell the producer; cancelling twice is harmless.

        Raises:
            NotFoundError: No such job of `user`.
            InvalidRequestError: The job has COMPLETED or FAILED (field ``backtest_id``).
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        _check_id(backtest_id)
        now_ns = self._now_ns()
        backtest, changed = await self._store.cancel(user, backtest_id, now_ns=now_ns)
        if not changed:
            if backtest.state is BacktestState.CANCELLED:
                return backtest
            raise InvalidRequestError(
                [
                    FieldViolation(
                        "backtest_id",
                        f"the backtest has already {backtest.state.value}; only queued or running"
                        " backtests can be cancelled",
                    )
                ]
            )
        self._cancelled += 1
        self._updates.ended(backtest)
        try:
            await self._publish(
                self._config.cancel_channel, cancel_message(backtest, now_ns, self._config.source)
            )
        except DependencyUnavailableError:
            # Cancelled for us either way: whatever the producer still reports is ignored.
            _logger.warning("backtest %s cancelled, but the producer could not be told", backtest_id)
        return backtest

    async def watch(self, user: str, backtest_id: str) -> AsyncGenerator[Backtest, None]:
        """The job's current state, then every change, ending after a final state. Owner only.

        Each watcher holds at most one unread state: a newer state replaces an unread one (only the
        latest matters, and the final state is always the last one seen).

        Raises:
            NotFoundError: No such job of `user`.
            LimitExceededError: `user` already watches `max_watchers_per_user` jobs.
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        _check_id(backtest_id)
        watched, mailbox = self._watches.open(user, backtest_id)
        try:
            last = await self._current(user, backtest_id, watched)
            mailbox.clear()  # anything put while loading is not newer than `last`
            yield last
            while not last.state.is_final:
                state = await mailbox.get()
                if state != last:
                    last = state
                    yield last
        finally:
            self._watches.close(user, backtest_id, watched, mailbox)

    # --- producer messages (called by the pattern consumer) -----------------------------------------

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
        self._updates.apply_progress(job_id, progress, current_symbol, estimated_completion_ns)

    def apply_outcome(self, job_id: str, status: str, results: Mapping[str, object], error: str = "") -> None:
        """Take the producer's result: `run` writes it and then shows it to watchers.

        Args:
            job_id: The job.
            status: "completed" (COMPLETED), "cancelled" (CANCELLED), anything else FAILED.
            results: The producer's ``results`` object (JSON values): metrics and details.
            error: Why it failed, when the producer said so outside ``results``.

        A second outcome, or one for a job that has ended, is ignored and counted. Never blocks.
        """
        self._updates.apply_outcome(job_id, status, results, error)

    async def run(self) -> None:
        """Write producer updates to PostgreSQL until cancelled (see `BacktestUpdates.run`)."""
        await self._updates.run()

    async def flush(self) -> None:
        """Write every pending update now: at shutdown, after the consumer stopped.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable; the updates stay pending.
        """
        await self._updates.flush()

    def stats(self) -> BacktestJobStats:
        """A snapshot of the counters."""
        updates = self._updates
        return BacktestJobStats(
            submitted=self._submitted,
            unheard=self._unheard,
            cancelled=self._cancelled,
            completed=updates.ended_by_state[BacktestState.COMPLETED.value],
            failed=updates.ended_by_state[BacktestState.FAILED.value],
            publish_failures=self._publish_failures,
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

    # --- helpers ------------------------------------------------------------------------------------

    async def _current(self, user: str, backtest_id: str, watched: Watched) -> Backtest:
        known = watched.state
        if known is None or known.user != user:
            loaded = self._updates.overlay(await self._store.get(user, backtest_id))  # owner check
            if watched.state is None or supersedes(loaded, watched.state):
                watched.state = loaded
            return watched.state
        return known

    async def _fail(self, backtest: Backtest, message: str) -> Backtest | None:
        outcome = BacktestOutcome(state=BacktestState.FAILED, error_message=message)
        failed = await self._store.record_outcome(backtest.backtest_id, outcome, now_ns=self._now_ns())
        if failed is not None:
            self._updates.ended(failed)
        return failed

    async def _publish(self, channel: str, message: str) -> int:
        try:
            return await self._publisher.publish(channel, message)
        except (RedisError, OSError) as exc:
            self._publish_failures += 1
            raise DependencyUnavailableError("Redis is unavailable") from exc

    def _now_ns(self) -> int:
        # PostgreSQL keeps microseconds; flooring here makes memory and database agree exactly.
        return self._clock_ns() // NS_PER_US * NS_PER_US


def _check_id(backtest_id: str) -> None:
    """An id no backtest can have (NUL bytes, 10,000 characters) is simply not found, before any query."""
    if not is_backtest_id_shape(backtest_id):
        raise NotFoundError(f"no backtest {backtest_id[:64]!r}")
