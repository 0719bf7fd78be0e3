"""The behaviour every BacktestStore must have, run against each implementation (memory and PostgreSQL).

Subclasses provide a `store` fixture; pytest collects the inherited tests for each of them. Times are
whole microseconds, the precision PostgreSQL keeps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from tickstock_server.domain.backtests import (
    Backtest,
    BacktestCursor,
    BacktestOutcome,
    BacktestParameters,
    BacktestResult,
    BacktestState,
    ProgressReport,
)
from tickstock_server.errors import NotFoundError
from tickstock_server.ports.backtests import BacktestStore

T0_NS = 1_767_700_800_000_000_000  # 2026-01-06T12:00:00Z
S = BacktestState


def make_backtest(index: int = 0, user: str = "alice", **changes: Any) -> Backtest:
    """A QUEUED backtest ``backtest_<index>`` of `user`, created `index` milliseconds after T0."""
    base = Backtest(
        backtest_id=f"backtest_{index:04d}",
        user=user,
        state=S.QUEUED,
        symbols=("AAPL", "BRK.B"),
        start_date=dt.date(2025, 1, 2),
        end_date=dt.date(2025, 12, 31),
        patterns=("Bull_Flag", "Doji"),
        parameters=BacktestParameters(commission_rate=0.002),
        create_ns=T0_NS + index * 1_000_000,
        update_ns=T0_NS + index * 1_000_000,
    )
    return replace(base, **changes)


def make_report(
    backtest_id: str, progress: float, symbol: str = "", eta_ns: int | None = None
) -> ProgressReport:
    """A progress report received one second after T0."""
    return ProgressReport(
        backtest_id=backtest_id,
        progress=progress,
        current_symbol=symbol,
        estimated_completion_ns=eta_ns,
        reported_ns=T0_NS + 10**9,
    )


async def list_all(store: BacktestStore, user: str, limit: int) -> tuple[list[str], int]:
    """Every backtest id of `user`, page after page, and the number of pages."""
    seen: list[str] = []
    after: BacktestCursor | None = None
    pages = 0
    while True:
        page = await store.list(user, limit=limit, after=after)
        seen += [backtest.backtest_id for backtest in page.backtests]
        pages += 1
        after = page.cursor
        if after is None:
            return seen, pages


class BacktestStoreContract:
    """Tests of the BacktestStore port."""

    async def test_insert_then_get_returns_the_same_backtest(self, store: BacktestStore) -> None:
        # Arrange
        backtest = make_backtest(1, estimated_completion_ns=T0_NS + 60 * 10**9, current_symbol="AAPL")

        # Act
        stored = await store.insert(backtest)

        # Assert
        assert stored == backtest
        assert await store.get("alice", backtest.backtest_id) == backtest

    async def test_another_users_or_unknown_backtest_raises_not_found(self, store: BacktestStore) -> None:
        # Arrange
        await store.insert(make_backtest())

        # Act / Assert
        with pytest.raises(NotFoundError):
            await store.get("bob", "backtest_0000")
        with pytest.raises(NotFoundError):
            await store.cancel("bob", "backtest_0000", now_ns=T0_NS)
        with pytest.raises(NotFoundError):
            await store.get("alice", "backtest_missing")
        assert (await store.get("alice", "backtest_0000")).state is S.QUEUED

    async def test_list_pages_newest_first_through_every_backtest_of_the_user(
        self, store: BacktestStore
    ) -> None:
        # Arrange: 25 of alice's, two sharing a creation time, and bob's in between
        for index in range(25):
            await store.insert(
                make_backtest(index, create_ns=T0_NS if index in (7, 8) else T0_NS + index * 10**6)
            )
            await store.insert(make_backtest(100 + index, user="bob"))

        # Act
        seen, pages = await list_all(store, "alice", limit=10)

        # Assert
        assert pages == 3
        assert len(seen) == len(set(seen)) == 25
        expected = sorted(
            (
                make_backtest(index, create_ns=T0_NS if index in (7, 8) else T0_NS + index * 10**6)
                for index in range(25)
            ),
            key=lambda backtest: (backtest.create_ns, backtest.backtest_id),
            reverse=True,
        )
        assert seen == [backtest.backtest_id for backtest in expected]

    @pytest.mark.parametrize(
        ("limit", "indexes", "more"), [(2, [2, 1], True), (3, [2, 1, 0], False), (5, [2, 1, 0], False)]
    )
    async def test_list_says_whether_older_backtests_follow(
        self, store: BacktestStore, limit: int, indexes: list[int], more: bool
    ) -> None:
        # Arrange
        for index in range(3):
            await store.insert(make_backtest(index))

        # Act
        page = await store.list("alice", limit=limit)

        # Assert
        assert ([backtest.backtest_id for backtest in page.backtests], page.more) == (
            [f"backtest_{index:04d}" for index in indexes],
            more,
        )

    async def test_list_after_the_oldest_backtest_or_of_a_user_without_any_is_empty(
        self, store: BacktestStore
    ) -> None:
        # Arrange
        oldest = await store.insert(make_backtest(0))
        await store.insert(make_backtest(1))

        # Act
        after_oldest = await store.list("alice", limit=10, after=(oldest.create_ns, oldest.backtest_id))
        of_bob = await store.list("bob", limit=10)

        # Assert
        assert (after_oldest.backtests, after_oldest.more) == ((), False)
        assert (of_bob.backtests, of_bob.more) == ((), False)

    async def test_progress_applies_to_active_backtests_only(self, store: BacktestStore) -> None:
        # Arrange
        await store.insert(make_backtest(1))
        await store.insert(make_backtest(2, state=S.CANCELLED))

        # Act
        applied = await store.record_progress(
            [make_report("backtest_0001", 0.4, "AAPL", T0_NS + 60 * 10**9), make_report("backtest_0002", 0.4),
             make_report("backtest_none", 0.4)]
        )  # fmt: skip
        await store.record_progress([make_report("backtest_0001", 0.6)])

        # Assert
        assert applied == {"backtest_0001"}
        running = await store.get("alice", "backtest_0001")
        assert (running.state, running.progress, running.current_symbol) == (S.RUNNING, 0.6, "AAPL")
        assert running.estimated_completion_ns == T0_NS + 60 * 10**9
        assert running.update_ns == T0_NS + 10**9
        assert (await store.get("alice", "backtest_0002")).state is S.CANCELLED

    async def test_no_progress_reports_change_nothing(self, store: BacktestStore) -> None:
        # Arrange
        backtest = await store.insert(make_backtest(1))

        # Act
        applied = await store.record_progress([])

        # Assert
        assert applied == frozenset()
        assert await store.get("alice", "backtest_0001") == backtest

    async def test_outcome_ends_an_active_backtest_once(self, store: BacktestStore) -> None:
        # Arrange
        await store.insert(make_backtest(1))
        result = BacktestResult(
            total_return=0.12, win_rate=0.55, total_trades=40, sharpe_ratio=1.3, max_drawdown=0.08,
            details={"per_pattern": {"Doji": {"trades": 4}}, "equity_curve": [100_000, 101_200]},
        )  # fmt: skip

        # Act
        done = await store.record_outcome(
            "backtest_0001", BacktestOutcome(state=S.COMPLETED, result=result), now_ns=T0_NS + 5 * 10**9
        )
        again = await store.record_outcome(
            "backtest_0001", BacktestOutcome(state=S.FAILED, error_message="late"), now_ns=T0_NS + 6 * 10**9
        )

        # Assert
        assert done is not None
        assert (done.state, done.progress, done.update_ns) == (S.COMPLETED, 1.0, T0_NS + 5 * 10**9)
        assert done.result == result
        assert again is None
        assert await store.get("alice", "backtest_0001") == done
        unknown = await store.record_outcome("backtest_none", BacktestOutcome(state=S.FAILED), now_ns=T0_NS)
        assert unknown is None

    async def test_failed_outcome_keeps_its_message_and_progress(self, store: BacktestStore) -> None:
        # Arrange
        await store.insert(make_backtest(1, state=S.RUNNING, progress=0.3))

        # Act
        failed = await store.record_outcome(
            "backtest_0001", BacktestOutcome(state=S.FAILED, error_message="no data"), now_ns=T0_NS + 10**9
        )

        # Assert
        assert failed is not None
        assert (failed.state, failed.progress, failed.error_message, failed.result) == (
            S.FAILED,
            0.3,
            "no data",
            None,
        )

    async def test_cancel_reports_whether_it_cancelled(self, store: BacktestStore) -> None:
        # Arrange
        await store.insert(make_backtest(1))

        # Act
        first = await store.cancel("alice", "backtest_0001", now_ns=T0_NS + 10**9)
        second = await store.cancel("alice", "backtest_0001", now_ns=T0_NS + 2 * 10**9)

        # Assert
        assert first[1] is True and first[0].state is S.CANCELLED
        assert first[0].update_ns == T0_NS + 10**9
        assert second == (first[0], False)

    async def test_cancel_of_a_completed_backtest_returns_it_unchanged(self, store: BacktestStore) -> None:
        # Arrange
        await store.insert(make_backtest(1))
        done = await store.record_outcome("backtest_0001", BacktestOutcome(state=S.COMPLETED), now_ns=T0_NS)

        # Act
        backtest, cancelled = await store.cancel("alice", "backtest_0001", now_ns=T0_NS + 10**9)

        # Assert
        assert (backtest, cancelled) == (done, False)

    # --- the quota count and the dispatch queue ---------------------------------------------------------

    async def test_count_active_counts_only_the_users_queued_and_running(self, store: BacktestStore) -> None:
        # Arrange
        for index in range(4):
            await store.insert(make_backtest(index))
        await store.insert(make_backtest(10, user="bob"))
        await store.record_progress([make_report("backtest_0001", 0.5)])
        await store.cancel("alice", "backtest_0002", now_ns=T0_NS)

        # Act / Assert
        assert (await store.count_active("alice"), await store.count_active("carol")) == (3, 0)

    async def test_claim_next_takes_the_user_with_fewest_in_flight_then_the_oldest(
        self, store: BacktestStore
    ) -> None:
        # Arrange: alice's three jobs come first, bob's one last
        for index in range(3):
            await store.insert(make_backtest(index))
        await store.insert(make_backtest(9, user="bob"))

        # Act
        claimed = [
            await store.claim_next(max_in_flight=3, heard_since_ns=T0_NS, now_ns=T0_NS + 10**9)
            for _ in range(4)
        ]

        # Assert: alice's first, bob's (alice has one in flight, bob none), alice's second; then full
        assert [None if b is None else b.backtest_id for b in claimed] == [
            "backtest_0000",
            "backtest_0009",
            "backtest_0001",
            None,
        ]

    async def test_an_ended_job_frees_its_place_in_flight(self, store: BacktestStore) -> None:
        # Arrange
        for index in range(2):
            await store.insert(make_backtest(index))
        await store.claim_next(max_in_flight=1, heard_since_ns=T0_NS, now_ns=T0_NS + 10**9)
        full = await store.claim_next(max_in_flight=1, heard_since_ns=T0_NS, now_ns=T0_NS + 10**9)

        # Act
        await store.record_outcome("backtest_0000", BacktestOutcome(state=S.COMPLETED), now_ns=T0_NS + 10**9)
        claimed = await store.claim_next(max_in_flight=1, heard_since_ns=T0_NS, now_ns=T0_NS + 2 * 10**9)

        # Assert
        assert full is None
        assert claimed is not None and claimed.backtest_id == "backtest_0001"

    async def test_a_released_or_lost_job_is_claimed_again(self, store: BacktestStore) -> None:
        # Arrange
        await store.insert(make_backtest(0))
        await store.claim_next(max_in_flight=5, heard_since_ns=T0_NS, now_ns=T0_NS + 10**9)
        await store.release_claim("backtest_0000")
        released = await store.claim_next(max_in_flight=5, heard_since_ns=T0_NS, now_ns=T0_NS + 2 * 10**9)
        heard = await store.claim_next(max_in_flight=5, heard_since_ns=T0_NS + 2 * 10**9, now_ns=T0_NS)

        # Act: nothing heard of it since it was handed over
        lost = await store.claim_next(
            max_in_flight=5, heard_since_ns=T0_NS + 3 * 10**9, now_ns=T0_NS + 4 * 10**9
        )

        # Assert
        assert released is not None and released.backtest_id == "backtest_0000"
        assert heard is None
        assert lost is not None and lost.backtest_id == "backtest_0000"

    async def test_a_running_job_is_in_flight_and_never_claimed(self, store: BacktestStore) -> None:
        # Arrange: it reports progress without TickStock having dispatched it (another replica did)
        for index in range(2):
            await store.insert(make_backtest(index))
        await store.record_progress([make_report("backtest_0000", 0.5)])

        # Act
        full = await store.claim_next(max_in_flight=1, heard_since_ns=T0_NS, now_ns=T0_NS + 2 * 10**9)
        claimed = await store.claim_next(max_in_flight=2, heard_since_ns=T0_NS, now_ns=T0_NS + 2 * 10**9)

        # Assert
        assert full is None
        assert claimed is not None and claimed.backtest_id == "backtest_0001"

    async def test_claim_next_among_users_with_as_many_in_flight_serves_the_one_served_longest_ago(
        self, store: BacktestStore
    ) -> None:
        # Arrange: alice's first job was served and has ended; bob was never served
        for index in range(2):
            await store.insert(make_backtest(index))
        await store.insert(make_backtest(9, user="bob"))
        await store.claim_next(max_in_flight=1, heard_since_ns=T0_NS, now_ns=T0_NS + 10**9)
        await store.record_outcome("backtest_0000", BacktestOutcome(state=S.FAILED), now_ns=T0_NS + 10**9)

        # Act
        claimed = await store.claim_next(max_in_flight=1, heard_since_ns=T0_NS, now_ns=T0_NS + 2 * 10**9)

        # Assert
        assert claimed is not None and claimed.backtest_id == "backtest_0009"
