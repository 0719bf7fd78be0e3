"""In-memory fakes of the backtest ports: a store with the domain's transition rules, and a publisher."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from tickstock_server.domain.backtests import (
    ACTIVE_STATES,
    Backtest,
    BacktestCursor,
    BacktestOutcome,
    BacktestPage,
    BacktestState,
    ProgressReport,
    with_outcome,
    with_progress,
)
from tickstock_server.errors import DependencyUnavailableError, NotFoundError


class MemoryBacktestStore:
    """`BacktestStore` in a dict; like `PgBacktestStore`, only active backtests take progress or an end.

    Unlike PostgreSQL it keeps times to the nanosecond, and details exactly as given.
    """

    def __init__(self) -> None:
        """Start with no backtests."""
        self.rows: dict[str, Backtest] = {}
        """Every stored backtest, by id (tests read and change it directly)."""
        self.dispatched_ns: dict[str, int] = {}
        """When each dispatched backtest was last handed to the producer, UTC epoch ns, by id."""

    async def insert(self, backtest: Backtest) -> Backtest:
        """Store a new backtest."""
        self.rows[backtest.backtest_id] = backtest
        return backtest

    async def get(self, user: str, backtest_id: str) -> Backtest:
        """One backtest of `user`.

        Raises:
            NotFoundError: No such backtest of `user`.
        """
        row = self.rows.get(backtest_id)
        if row is None or row.user != user:
            raise NotFoundError(f"no backtest {backtest_id[:100]!r}")
        return row

    async def list(self, user: str, *, limit: int, after: BacktestCursor | None = None) -> BacktestPage:
        """Up to `limit` backtests of `user`, newest first, after the cursor `after`."""
        rows = sorted(
            (row for row in self.rows.values() if row.user == user),
            key=lambda row: (row.create_ns, row.backtest_id),
            reverse=True,
        )
        if after is not None:
            rows = [row for row in rows if (row.create_ns, row.backtest_id) < after]
        return BacktestPage(backtests=tuple(rows[:limit]), more=len(rows) > limit)

    async def cancel(self, user: str, backtest_id: str, *, now_ns: int) -> tuple[Backtest, bool]:
        """Mark an active backtest of `user` CANCELLED; return it and whether this call cancelled it.

        Raises:
            NotFoundError: No such backtest of `user`.
        """
        row = await self.get(user, backtest_id)
        cancelled = with_outcome(row, BacktestOutcome(state=BacktestState.CANCELLED), now_ns=now_ns)
        if cancelled is None:
            return row, False
        self.rows[backtest_id] = cancelled
        return cancelled, True

    async def count_active(self, user: str) -> int:
        """How many backtests of `user` are QUEUED or RUNNING."""
        return sum(1 for row in self.rows.values() if row.user == user and row.state in ACTIVE_STATES)

    async def claim_next(self, *, max_in_flight: int, heard_since_ns: int, now_ns: int) -> Backtest | None:
        """Mark the next backtest to hand to the producer as dispatched (see the port); return it."""
        in_flight: Counter[str] = Counter()
        waiting: list[Backtest] = []
        for row in self.rows.values():
            dispatched_ns = self.dispatched_ns.get(row.backtest_id)
            heard = dispatched_ns is not None and max(dispatched_ns, row.update_ns) >= heard_since_ns
            if row.state in ACTIVE_STATES and heard:
                in_flight[row.user] += 1
            elif row.state is BacktestState.QUEUED:
                waiting.append(row)
        if not waiting or in_flight.total() >= max_in_flight:
            return None
        served_ns: dict[str, int] = {}
        for backtest_id, dispatched_ns in self.dispatched_ns.items():
            user = self.rows[backtest_id].user
            served_ns[user] = max(served_ns.get(user, dispatched_ns), dispatched_ns)
        chosen = min(
            waiting,
            key=lambda row: (
                in_flight[row.user],
                row.user in served_ns,
                served_ns.get(row.user, 0),
                row.create_ns,
                row.backtest_id,
            ),
        )
        self.dispatched_ns[chosen.backtest_id] = now_ns
        return chosen

    async def release_claim(self, backtest_id: str) -> None:
        """Put a claimed backtest back in the queue when it is still QUEUED."""
        row = self.rows.get(backtest_id)
        if row is not None and row.state is BacktestState.QUEUED:
            self.dispatched_ns.pop(backtest_id, None)

    async def record_progress(self, reports: Sequence[ProgressReport]) -> frozenset[str]:
        """Apply progress to the active backtests among `reports`; return the ids that changed."""
        applied = set()
        for report in reports:
            row = self.rows.get(report.backtest_id)
            updated = None if row is None else with_progress(row, report)
            if updated is not None:
                self.rows[report.backtest_id] = updated
                self.dispatched_ns.setdefault(report.backtest_id, report.reported_ns)
                applied.add(report.backtest_id)
        return frozenset(applied)

    async def record_outcome(
        self, backtest_id: str, outcome: BacktestOutcome, *, now_ns: int
    ) -> Backtest | None:
        """End an active backtest; return it, or None when it is unknown or has ended."""
        row = self.rows.get(backtest_id)
        ended = None if row is None else with_outcome(row, outcome, now_ns=now_ns)
        if ended is not None:
            self.rows[backtest_id] = ended
        return ended


class MemoryBacktestRequests:
    """`BacktestRequestPublisher` that keeps what it was given; it can play "nobody listens" or "down"."""

    def __init__(self, *, receivers: int = 1, job_destination: str = "memory:backtest-jobs") -> None:
        """Answer every job with `receivers` (0: no producer listens)."""
        self.receivers = receivers
        """Receivers `publish_job` reports."""
        self.unavailable = False
        """When True, every call raises `DependencyUnavailableError` (as when Redis is down)."""
        self.jobs: list[Backtest] = []
        """Jobs published, oldest first."""
        self.cancels: list[tuple[Backtest, int]] = []
        """Cancellations published, with their time (UTC epoch ns), oldest first."""
        self._job_destination = job_destination

    @property
    def job_destination(self) -> str:
        """The name given at construction."""
        return self._job_destination

    async def publish_job(self, backtest: Backtest) -> int:
        """Keep the job; return `receivers`.

        Raises:
            DependencyUnavailableError: `unavailable` is set.
        """
        self._check()
        self.jobs.append(backtest)
        return self.receivers

    async def publish_cancel(self, backtest: Backtest, *, now_ns: int) -> None:
        """Keep the cancellation.

        Raises:
            DependencyUnavailableError: `unavailable` is set.
        """
        self._check()
        self.cancels.append((backtest, now_ns))

    def _check(self) -> None:
        if self.unavailable:
            raise DependencyUnavailableError("the backtest producer's bus is unavailable")
