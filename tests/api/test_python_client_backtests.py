"""The Python client's backtest calls against the in-process BacktestService, the test playing the
producer through `BacktestJobs`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from api_server import ServerFactory
from backtest_api import NOW_NS, Harness, running_backtests
from polling import eventually

from tickstock.v1 import backtest_service_pb2 as pb
from tickstock_client import (
    AsyncClient,
    Backtest,
    BacktestParameters,
    BacktestState,
    Client,
    InvalidArgumentError,
    NotFoundError,
    UnavailableError,
)
from tickstock_server.adapters.memory.backtests import MemoryBacktestStore
from tickstock_server.api.backtest_service import BacktestServiceServicer
from tickstock_server.domain.backtests import BacktestOutcome, BacktestResult
from tickstock_server.domain.backtests import BacktestState as ServerState
from tickstock_server.errors import DependencyUnavailableError

START, END = date(2025, 1, 2), date(2025, 12, 31)  # before the jobs' clock, 2026-01-06
NOW = datetime.fromtimestamp(NOW_NS / 10**9, UTC)


@pytest.fixture
async def harness(start_api_server: ServerFactory) -> AsyncIterator[Harness]:
    async with running_backtests(start_api_server) as harness:
        yield harness


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(f"127.0.0.1:{harness.api.port}", api_key=harness.api.token) as client:
        yield client


async def _submit(client: AsyncClient) -> Backtest:
    return await client.submit_backtest(["aapl", "MSFT"], START, END, ["Bull_Flag"])


async def test_submit_queues_the_backtest_and_get_returns_it(harness: Harness, client: AsyncClient) -> None:
    # Act
    submitted = await client.submit_backtest(
        ("aapl", "MSFT"),
        START,
        END,
        ["Bull_Flag", "Doji"],
        BacktestParameters(initial_capital=50_000, stop_loss_pct=0.02),
    )
    fetched = await client.get_backtest(submitted.backtest_id)

    # Assert
    assert submitted.state is BacktestState.QUEUED
    assert (submitted.symbols, submitted.patterns) == (("AAPL", "MSFT"), ("Bull_Flag", "Doji"))
    assert (submitted.start_date, submitted.end_date) == (START, END)
    assert submitted.parameters == BacktestParameters(initial_capital=50_000, stop_loss_pct=0.02)
    assert submitted.create_time is not None and submitted.create_time >= NOW
    assert (submitted.result, submitted.progress, submitted.error_message) == (None, 0.0, "")
    assert [job.backtest_id for job in harness.publisher.jobs] == [submitted.backtest_id]
    assert fetched == submitted


async def test_an_invalid_submission_raises_with_every_field_violation(client: AsyncClient) -> None:
    # Act
    with pytest.raises(InvalidArgumentError) as raised:
        await client.submit_backtest(["AAPL", "not a ticker"], END, START, [])

    # Assert
    assert {violation.field for violation in raised.value.field_violations} == {
        "symbols[1]",
        "end_date",
        "patterns",
    }


class _UnavailableStore(MemoryBacktestStore):
    """PostgreSQL is down: the quota count fails, and the calls are counted."""

    def __init__(self) -> None:
        super().__init__()
        self.counts = 0

    async def count_active(self, user: str) -> int:
        self.counts += 1
        raise DependencyUnavailableError("PostgreSQL is unavailable")


async def test_a_submission_that_failed_with_unavailable_is_not_retried(
    start_api_server: ServerFactory,
) -> None:
    # Arrange: PostgreSQL is down
    store = _UnavailableStore()
    async with (
        running_backtests(start_api_server, store=store) as harness,
        AsyncClient(f"127.0.0.1:{harness.api.port}", api_key=harness.api.token) as client,
    ):
        # Act
        with pytest.raises(UnavailableError):
            await _submit(client)

    # Assert: one attempt, not one per retry
    assert (store.counts, store.rows) == (1, {})


async def test_a_submission_while_the_bus_is_down_is_stored_once_and_stays_queued(
    harness: Harness, client: AsyncClient
) -> None:
    # Arrange
    harness.publisher.unavailable = True

    # Act
    submitted = await _submit(client)

    # Assert
    [stored] = harness.store.rows.values()
    assert (submitted.state, stored.state) == (BacktestState.QUEUED, ServerState.QUEUED)


async def test_list_backtests_walks_every_page_newest_first(client: AsyncClient) -> None:
    # Arrange: one more than the largest page, each cancelled to stay within the user's quota
    submitted = []
    for _ in range(101):
        submitted.append((await _submit(client)).backtest_id)
        await client.cancel_backtest(submitted[-1])

    # Act
    listed = [backtest.backtest_id async for backtest in client.list_backtests()]

    # Assert
    assert listed == submitted[::-1]


async def test_cancel_cancels_and_a_completed_backtest_cannot_be(
    harness: Harness, client: AsyncClient
) -> None:
    # Arrange
    running, done = await _submit(client), await _submit(client)
    harness.jobs.apply_outcome(
        done.backtest_id, BacktestOutcome(state=ServerState.COMPLETED, result=BacktestResult())
    )
    await harness.jobs.flush()

    # Act
    cancelled = await client.cancel_backtest(running.backtest_id)
    with pytest.raises(InvalidArgumentError) as raised:
        await client.cancel_backtest(done.backtest_id)

    # Assert
    assert cancelled.state is BacktestState.CANCELLED
    assert [violation.field for violation in raised.value.field_violations] == ["backtest_id"]
    assert [job.backtest_id for job, _ in harness.publisher.cancels] == [running.backtest_id]


@pytest.mark.parametrize("call", ["get", "cancel", "watch"])
async def test_a_backtest_of_another_user_is_not_found(
    harness: Harness, client: AsyncClient, call: str
) -> None:
    # Arrange
    response = await harness.stub.SubmitBacktest(
        pb.SubmitBacktestRequest(
            symbols=["AAPL"], start_date={"year": 2025, "month": 1, "day": 2},
            end_date={"year": 2025, "month": 2, "day": 3}, patterns=["Doji"],
        ),
        metadata=harness.bob,
    )  # fmt: skip
    bobs = response.backtest.backtest_id

    # Act / Assert
    with pytest.raises(NotFoundError):
        if call == "get":
            await client.get_backtest(bobs)
        elif call == "cancel":
            await client.cancel_backtest(bobs)
        else:
            await anext(client.watch_backtest(bobs))


class Follower:
    """Collects what `watch_backtest` yields, in a task, so the test can act between two states."""

    def __init__(self, client: AsyncClient, backtest_id: str) -> None:
        self.states: list[Backtest] = []
        self.task = asyncio.create_task(self._follow(client, backtest_id))

    async def _follow(self, client: AsyncClient, backtest_id: str) -> None:
        async for backtest in client.watch_backtest(backtest_id):
            self.states.append(backtest)

    async def seen(self, count: int) -> None:
        await eventually(lambda: len(self.states) >= count or self.task.done())

    async def ended(self) -> list[Backtest]:
        await asyncio.wait_for(self.task, 10)
        return self.states


async def test_watch_backtest_follows_the_job_to_completed_and_ends(
    harness: Harness, client: AsyncClient
) -> None:
    # Arrange
    submitted = await _submit(client)
    follower = Follower(client, submitted.backtest_id)
    await follower.seen(1)

    # Act: the producer reports progress, then the results
    harness.jobs.apply_progress(submitted.backtest_id, 0.5, "MSFT", NOW_NS + 60 * 10**9)
    await follower.seen(2)
    result = BacktestResult(total_return=0.12, total_trades=4, details={"trades": [{"symbol": "AAPL"}]})
    harness.jobs.apply_outcome(
        submitted.backtest_id, BacktestOutcome(state=ServerState.COMPLETED, result=result)
    )
    states = await follower.ended()

    # Assert
    assert [(b.state, b.progress) for b in states] == [
        (BacktestState.QUEUED, 0.0),
        (BacktestState.RUNNING, 0.5),
        (BacktestState.COMPLETED, 1.0),
    ]
    assert (states[1].current_symbol, states[1].estimated_completion_time) == (
        "MSFT",
        datetime.fromtimestamp(NOW_NS / 10**9 + 60, UTC),
    )
    done = states[-1].result
    assert done is not None and (done.total_return, done.total_trades) == (0.12, 4)
    assert done.details == {"trades": [{"symbol": "AAPL"}]}
    assert await client.get_backtest(submitted.backtest_id) == states[-1]


class _EndingFirstStream:
    """BacktestService whose first state stream ends after the current state, before the final one."""

    def __init__(self, service: BacktestServiceServicer) -> None:
        self._service = service
        self.opened = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    async def StreamBacktest(  # noqa: N802 - gRPC method name
        self, request: pb.StreamBacktestRequest, context: Any
    ) -> AsyncIterator[pb.StreamBacktestResponse]:
        self.opened += 1
        states = self._service.StreamBacktest(request, context)
        async with contextlib.aclosing(states):
            async for response in states:
                yield response
                if self.opened == 1:
                    return


async def test_watch_backtest_continues_on_a_new_stream_without_repeating_a_state(
    start_api_server: ServerFactory,
) -> None:
    # Arrange
    wrapper: list[_EndingFirstStream] = []

    def wrap(servicer: BacktestServiceServicer) -> object:
        wrapper.append(_EndingFirstStream(servicer))
        return wrapper[0]

    async with (
        running_backtests(start_api_server, wrap) as harness,
        AsyncClient(f"127.0.0.1:{harness.api.port}", api_key=harness.api.token) as client,
    ):
        submitted = await _submit(client)
        follower = Follower(client, submitted.backtest_id)
        await follower.seen(1)
        await eventually(lambda: wrapper[0].opened == 2)

        # Act
        failed = BacktestOutcome(state=ServerState.FAILED, error_message="no data")
        harness.jobs.apply_outcome(submitted.backtest_id, failed)
        states = await follower.ended()

    # Assert: the second stream's first state equals the last one seen, so it is not repeated
    assert [(b.state, b.error_message) for b in states] == [
        (BacktestState.QUEUED, ""),
        (BacktestState.FAILED, "no data"),
    ]


async def test_the_blocking_client_gets_lists_and_watches(harness: Harness, client: AsyncClient) -> None:
    # Arrange
    first, second = await _submit(client), await _submit(client)
    harness.jobs.apply_outcome(second.backtest_id, BacktestOutcome(state=ServerState.CANCELLED))
    await harness.jobs.flush()

    def use_blocking_client() -> tuple[Backtest, list[Backtest], list[Backtest]]:
        with Client(f"127.0.0.1:{harness.api.port}", api_key=harness.api.token) as blocking:
            return (
                blocking.get_backtest(first.backtest_id),
                blocking.list_backtests(),
                list(blocking.watch_backtest(second.backtest_id)),
            )

    # Act
    fetched, listed, watched = await asyncio.to_thread(use_blocking_client)

    # Assert
    assert fetched == first
    assert [b.backtest_id for b in listed] == [second.backtest_id, first.backtest_id]
    assert [b.state for b in watched] == [BacktestState.CANCELLED]
