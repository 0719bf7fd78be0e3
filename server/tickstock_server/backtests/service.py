"""The rules of a user's backtests: submit (validate, quota, store, queue), get, list, cancel and watch."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from collections.abc import AsyncGenerator, Callable
from dataclasses import replace

from tickstock_server.backtests.dispatch import BacktestDispatcher
from tickstock_server.backtests.updates import BacktestUpdates
from tickstock_server.backtests.watch import Watched, WatchRegistry, supersedes
from tickstock_server.domain.backtest_requests import BacktestSubmission, validate_submission
from tickstock_server.domain.backtests import (
    Backtest,
    BacktestCursor,
    BacktestPage,
    BacktestState,
    is_backtest_id_shape,
)
from tickstock_server.errors import (
    DependencyUnavailableError,
    FieldViolation,
    InvalidRequestError,
    LimitExceededError,
    NotFoundError,
)
from tickstock_server.ports.backtests import BacktestRequestPublisher, BacktestStore
from tickstock_server.support.time_units import NS_PER_S

_logger = logging.getLogger(__name__)


class BacktestService:
    """What a user may do with backtests; every call is scoped to the calling user.

    Built by `BacktestJobs`, which shares the producer's updates (`BacktestUpdates`) and the watchers
    (`WatchRegistry`) with it.
    """

    def __init__(
        self,
        *,
        store: BacktestStore,
        publisher: BacktestRequestPublisher,
        dispatcher: BacktestDispatcher,
        updates: BacktestUpdates,
        watches: WatchRegistry,
        max_active_per_user: int,
        now_ns: Callable[[], int],
    ) -> None:
        """Keep jobs in `store`, queue them for `dispatcher`, send cancellations through `publisher`.

        A user may have at most `max_active_per_user` jobs QUEUED or RUNNING; time comes from `now_ns`.
        """
        self._store = store
        self._publisher = publisher
        self._dispatcher = dispatcher
        self._updates = updates
        self._watches = watches
        self._max_active_per_user = max_active_per_user
        self._now_ns = now_ns
        self._admission = asyncio.Lock()
        self.submitted = 0
        """Jobs accepted and stored."""
        self.refused_over_quota = 0
        """Submissions refused because the user had `max_active_per_user` active jobs."""
        self.cancelled = 0
        """Jobs cancelled by their owners."""
        self.cancel_publish_failures = 0
        """Cancel messages the producer's Redis could not take."""

    async def submit(self, user: str, submission: BacktestSubmission) -> Backtest:
        """Validate and store (QUEUED) a job of `user`, then dispatch what may go to the producer.

        The job waits in the store's queue until the dispatcher hands it to the producer (at once when
        fewer than `max_in_flight` jobs are there); see `tickstock_server.backtests.dispatch`.

        Returns:
            The stored job: QUEUED, or FAILED when no producer was subscribed to receive it.

        Raises:
            InvalidRequestError: The submission is invalid (every violation at once).
            LimitExceededError: `user` already has `max_active_per_user` QUEUED or RUNNING jobs.
            DependencyUnavailableError: PostgreSQL is unreachable (nothing was stored).
        """
        now_ns = self._now_ns()
        spec = validate_submission(
            submission, today=dt.datetime.fromtimestamp(now_ns // NS_PER_S, dt.UTC).date()
        )
        # One admission at a time in this process: the count and the insert must not interleave.
        async with self._admission:
            if await self._store.count_active(user) >= self._max_active_per_user:
                self.refused_over_quota += 1
                raise LimitExceededError(
                    f"a user may have at most {self._max_active_per_user} backtests queued or running;"
                    " wait for one to end, or cancel one"
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
        self.submitted += 1
        _logger.info("backtest %s of %s queued (%d symbols)", backtest.backtest_id, user, len(spec.symbols))
        try:
            handled = await self._dispatcher.dispatch()
        except DependencyUnavailableError:
            # Stored and queued: the dispatcher's next pass hands it over.
            self._dispatcher.wake()
            return backtest
        return handled.get(backtest.backtest_id, backtest)

    async def get(self, user: str, backtest_id: str) -> Backtest:
        """One job of `user`, with progress not yet written.

        Raises:
            NotFoundError: No such job of `user` (another user's included).
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        _check_id(backtest_id)
        return self._updates.overlay(await self._store.get(user, backtest_id))

    async def list(self, user: str, *, limit: int, after: BacktestCursor | None = None) -> BacktestPage:
        """Up to `limit` jobs of `user`, newest first, after the cursor `after`, with unwritten progress.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        page = await self._store.list(user, limit=limit, after=after)
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
        self.cancelled += 1
        self._updates.ended(backtest)
        try:
            await self._publisher.publish_cancel(backtest, now_ns=now_ns)
        except DependencyUnavailableError:
            # Cancelled for us either way: whatever the producer still reports is ignored.
            self.cancel_publish_failures += 1
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

    async def _current(self, user: str, backtest_id: str, watched: Watched) -> Backtest:
        known = watched.state
        if known is None or known.user != user:
            loaded = self._updates.overlay(await self._store.get(user, backtest_id))  # owner check
            if watched.state is None or supersedes(loaded, watched.state):
                watched.state = loaded
            return watched.state
        return known


def _check_id(backtest_id: str) -> None:
    """An id no backtest can have (NUL bytes, 10,000 characters) is simply not found, before any query."""
    if not is_backtest_id_shape(backtest_id):
        raise NotFoundError(f"no backtest {backtest_id[:64]!r}")
