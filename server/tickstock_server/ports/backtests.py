"""Ports of the backtest jobs: where jobs are kept, and how they reach the backtest producer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tickstock_server.domain.backtests import (
    Backtest,
    BacktestCursor,
    BacktestOutcome,
    BacktestPage,
    ProgressReport,
)


class BacktestStore(Protocol):
    """Keeps every user's backtests, their progress and outcomes.

    Calls made for a client are scoped to one user: another user's backtest behaves exactly like one
    that does not exist (`NotFoundError`). Progress and outcomes come from the producer, which knows job
    ids only, so those calls are not scoped; they change active backtests only, which keeps final states
    final however late a message arrives.
    """

    async def insert(self, backtest: Backtest) -> Backtest:
        """Store a new backtest; return it as stored (the database may keep coarser times)."""
        ...

    async def get(self, user: str, backtest_id: str) -> Backtest:
        """One backtest of `user`; `NotFoundError` for unknown ids and other users' backtests."""
        ...

    async def list(self, user: str, *, limit: int, after: BacktestCursor | None = None) -> BacktestPage:
        """Up to `limit` (at least 1) backtests of `user`, newest first (by creation time, then id).

        `after` is the previous page's last backtest (`BacktestPage.cursor`); the page starts after it.
        """
        ...

    async def cancel(self, user: str, backtest_id: str, *, now_ns: int) -> tuple[Backtest, bool]:
        """Mark an active backtest of `user` CANCELLED; return it and whether this call cancelled it.

        A backtest that had already ended is returned unchanged with False; `NotFoundError` as in `get`.
        """
        ...

    async def count_active(self, user: str) -> int:
        """How many backtests of `user` are QUEUED or RUNNING."""
        ...

    async def claim_next(self, *, max_in_flight: int, heard_since_ns: int, now_ns: int) -> Backtest | None:
        """Mark the next QUEUED backtest to hand to the producer as dispatched at `now_ns`; return it.

        In flight are the active backtests dispatched (or reported on) at or after `heard_since_ns`;
        older ones count as lost. None when `max_in_flight` are in flight or nothing waits. Otherwise
        the next is the oldest waiting backtest (never dispatched, or QUEUED and lost) of the user with
        the fewest in flight and, among those, of the user whose last dispatch is oldest (never first):
        round robin across users. Claims are atomic across processes.
        """
        ...

    async def release_claim(self, backtest_id: str) -> None:
        """Put a claimed backtest that could not be handed over back in the queue, if still QUEUED."""
        ...

    async def record_progress(self, reports: Sequence[ProgressReport]) -> frozenset[str]:
        """Apply progress reports (one per backtest) to the active ones; return the ids that changed.

        A backtest that reports progress counts as dispatched.
        """
        ...

    async def record_outcome(
        self, backtest_id: str, outcome: BacktestOutcome, *, now_ns: int
    ) -> Backtest | None:
        """End an active backtest (any user's); return it, or None when it is unknown or has ended."""
        ...


class BacktestRequestPublisher(Protocol):
    """Hands jobs and cancellations to the backtest producer (TickStockPL).

    Raises `DependencyUnavailableError` when the message could not be handed over.
    """

    @property
    def job_destination(self) -> str:
        """Where jobs go (a channel name), for messages telling that nobody listens there."""
        ...

    async def publish_job(self, backtest: Backtest) -> int:
        """Ask the producer to run `backtest`; return how many producers received it (0: none listens)."""
        ...

    async def publish_cancel(self, backtest: Backtest, *, now_ns: int) -> None:
        """Tell the producer that `backtest` was cancelled at `now_ns` (UTC epoch ns)."""
        ...
