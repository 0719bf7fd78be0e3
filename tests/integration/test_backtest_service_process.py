"""BacktestService in process over the real adapters: PostgreSQL keeps the jobs, Redis carries them to the
producer. The test plays the producer; the table of API behaviours over fakes is tests/api."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc
import pytest
import redis.asyncio

from tickstock.v1 import backtest_service_pb2 as pb
from tickstock.v1 import backtest_service_pb2_grpc, common_pb2
from tickstock_server.adapters.memory.api_keys import MemoryApiKeyStore
from tickstock_server.api.auth import create_auth_interceptor
from tickstock_server.api.backtest_service import BacktestServiceServicer
from tickstock_server.api.server import create_server
from tickstock_server.backtests.config import BacktestJobsConfig
from tickstock_server.backtests.jobs import BacktestJobs
from tickstock_server.bus.backtest_requests import RedisBacktestRequests
from tickstock_server.domain.backtests import BacktestOutcome, BacktestResult, BacktestState
from tickstock_server.storage.backtests import PgBacktestStore
from tickstock_server.storage.migrate import apply_migrations

BACKTEST_SERVICE = "tickstock.v1.BacktestService"
NOW_NS = 1_767_700_800_000_000_000  # 2026-01-06T12:00:00Z: the jobs' clock starts here, 1 ms per reading
Metadata = tuple[tuple[str, str], ...]


@dataclass
class Producer:
    """The test's side of the Redis channels, standing in for TickStockPL."""

    pubsub: Any
    job_channel: str
    cancel_channel: str

    async def next_message(self) -> tuple[str, dict[str, Any]]:
        """The next job or cancel message published (channel, decoded JSON)."""
        for _ in range(100):
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message is not None:
                return message["channel"], json.loads(message["data"])
        raise AssertionError("no message published within 10 s")


@dataclass
class Harness:
    jobs: BacktestJobs
    producer: Producer
    stub: backtest_service_pb2_grpc.BacktestServiceStub
    alice: Metadata
    bob: Metadata


@pytest.fixture
async def harness(redis_url: str, pg_pool: asyncpg.Pool) -> AsyncIterator[Harness]:
    await apply_migrations(pg_pool)
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    job_channel, cancel_channel = prefix + "tickstock.jobs.backtest", prefix + "tickstock.jobs.cancel"
    client = redis.asyncio.from_url(redis_url, decode_responses=True)
    pubsub = client.pubsub()
    await pubsub.subscribe(job_channel, cancel_channel)
    for _ in range(2):  # both confirmations: the subscriptions are live before anything is published
        assert await pubsub.get_message(timeout=5.0) is not None
    jobs = BacktestJobs(
        store=PgBacktestStore(pg_pool),
        publisher=RedisBacktestRequests(client, job_channel=job_channel, cancel_channel=cancel_channel),
        config=BacktestJobsConfig(progress_write_interval_s=0.05),
        clock_ns=itertools.count(NOW_NS, 1_000_000).__next__,
    )
    writer = asyncio.create_task(jobs.run())
    keys = MemoryApiKeyStore()
    alice, bob = await keys.create("alice"), await keys.create("bob")
    server, port, _ = create_server(
        servicers={BACKTEST_SERVICE: BacktestServiceServicer(backtests=jobs.service)},
        auth=create_auth_interceptor(keys),
        host="127.0.0.1",
        port=0,
        max_connection_age_s=3600,
    )
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Harness(
            jobs=jobs,
            producer=Producer(pubsub=pubsub, job_channel=job_channel, cancel_channel=cancel_channel),
            stub=backtest_service_pb2_grpc.BacktestServiceStub(channel),
            alice=(("authorization", f"Bearer {alice.token}"),),
            bob=(("authorization", f"Bearer {bob.token}"),),
        )
    finally:
        await channel.close()
        await server.stop(None)
        writer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writer
        await pubsub.aclose()
        await client.aclose()


def _request() -> pb.SubmitBacktestRequest:
    return pb.SubmitBacktestRequest(
        symbols=["aapl", "MSFT"],
        start_date=common_pb2.Date(year=2025, month=1, day=2),
        end_date=common_pb2.Date(year=2025, month=12, day=31),
        patterns=["Bull_Flag"],
        parameters=pb.BacktestParameters(initial_capital=50_000, stop_loss_pct=0.02),
    )


async def _submit(h: Harness) -> pb.Backtest:
    response = await h.stub.SubmitBacktest(_request(), metadata=h.alice)
    await h.producer.next_message()
    return response.backtest


# --- tests ----------------------------------------------------------------------------------------------


async def test_submit_publishes_the_job_and_returns_it_queued(harness: Harness) -> None:
    # Act
    response = await harness.stub.SubmitBacktest(_request(), metadata=harness.alice)
    channel, job = await harness.producer.next_message()

    # Assert
    backtest = response.backtest
    assert backtest.state == pb.BACKTEST_STATE_QUEUED
    assert list(backtest.symbols) == ["AAPL", "MSFT"]
    assert (backtest.parameters.initial_capital, backtest.parameters.commission_rate) == (50_000, 0.001)
    assert channel == harness.producer.job_channel
    assert job == {
        "type": "backtest_job",
        "job_id": backtest.backtest_id,
        "user_id": "alice",
        "symbols": ["AAPL", "MSFT"],
        "start_date": "2025-01-02",
        "end_date": "2025-12-31",
        "patterns": ["Bull_Flag"],
        "parameters": {
            "initial_capital": 50000.0,
            "commission_rate": 0.001,
            "slippage_rate": 0.0005,
            "max_position_size": 0.1,
            "stop_loss_pct": 0.02,
            "take_profit_pct": 0.1,
        },
        "timestamp": backtest.create_time.ToNanoseconds() / 10**9,
        "source": "tickstock",
    }
    stored = await harness.stub.GetBacktest(
        pb.GetBacktestRequest(backtest_id=backtest.backtest_id), metadata=harness.alice
    )
    assert stored.backtest == backtest


@pytest.mark.parametrize(
    ("backtest_id", "code"),
    [
        ("backtest_1_\x00ff", grpc.StatusCode.NOT_FOUND),
        ("", grpc.StatusCode.NOT_FOUND),
        ("x" * 10_000, grpc.StatusCode.INVALID_ARGUMENT),  # past the id's documented 64 characters
    ],
)
async def test_an_id_no_backtest_can_have_is_refused_not_internal(
    harness: Harness, backtest_id: str, code: grpc.StatusCode
) -> None:
    # NUL bytes once reached PostgreSQL, which refused them: INTERNAL.
    for call in (
        harness.stub.GetBacktest(pb.GetBacktestRequest(backtest_id=backtest_id), metadata=harness.alice),
        harness.stub.CancelBacktest(
            pb.CancelBacktestRequest(backtest_id=backtest_id), metadata=harness.alice
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() is code
        assert len(raised.value.details() or "") < 200


async def test_cancel_publishes_cancellation_and_a_second_cancel_is_harmless(harness: Harness) -> None:
    # Arrange
    backtest = await _submit(harness)
    request = pb.CancelBacktestRequest(backtest_id=backtest.backtest_id)

    # Act
    cancelled = await harness.stub.CancelBacktest(request, metadata=harness.alice)
    channel, message = await harness.producer.next_message()
    again = await harness.stub.CancelBacktest(request, metadata=harness.alice)

    # Assert
    assert cancelled.backtest.state == again.backtest.state == pb.BACKTEST_STATE_CANCELLED
    assert channel == harness.producer.cancel_channel
    assert (message["type"], message["job_id"], message["source"]) == (
        "cancel_job",
        backtest.backtest_id,
        "tickstock",
    )


async def test_stream_shows_progress_then_completion_and_ends(harness: Harness) -> None:
    # Arrange
    backtest = await _submit(harness)
    eta_ns = backtest.create_time.ToNanoseconds() + 120 * 10**9
    stream = harness.stub.StreamBacktest(
        pb.StreamBacktestRequest(backtest_id=backtest.backtest_id), metadata=harness.alice
    )
    first = await stream.read()

    # Act
    harness.jobs.apply_progress(backtest.backtest_id, 0.5, "MSFT", eta_ns)
    second = await stream.read()
    result = BacktestResult(
        total_return=0.12, win_rate=0.6, total_trades=42, sharpe_ratio=1.4, max_drawdown=0.07,
        details={"per_pattern": {"Bull_Flag": {"trades": 42}}},
    )  # fmt: skip
    harness.jobs.apply_outcome(
        backtest.backtest_id, BacktestOutcome(state=BacktestState.COMPLETED, result=result)
    )
    third = await stream.read()
    end = await stream.read()

    # Assert
    assert first.backtest.state == pb.BACKTEST_STATE_QUEUED
    assert second.backtest.state == pb.BACKTEST_STATE_RUNNING
    assert (second.backtest.progress, second.backtest.current_symbol) == (0.5, "MSFT")
    assert second.backtest.estimated_completion_time.ToNanoseconds() == eta_ns
    done = third.backtest
    assert (done.state, done.progress) == (pb.BACKTEST_STATE_COMPLETED, 1.0)
    assert (done.result.total_return, done.result.total_trades, done.result.max_drawdown) == (0.12, 42, 0.07)
    assert done.result.details["per_pattern"]["Bull_Flag"]["trades"] == 42
    assert end is grpc.aio.EOF
    assert await stream.code() is grpc.StatusCode.OK
    stored = await harness.stub.GetBacktest(
        pb.GetBacktestRequest(backtest_id=backtest.backtest_id), metadata=harness.alice
    )
    assert stored.backtest == done


async def test_list_pages_through_the_callers_backtests_newest_first(harness: Harness) -> None:
    # Arrange
    submitted = [(await _submit(harness)).backtest_id for _ in range(3)]

    # Act
    first = await harness.stub.ListBacktests(pb.ListBacktestsRequest(page_size=2), metadata=harness.alice)
    second = await harness.stub.ListBacktests(
        pb.ListBacktestsRequest(page_size=2, page_token=first.next_page_token), metadata=harness.alice
    )

    # Assert
    listed = [b.backtest_id for b in first.backtests] + [b.backtest_id for b in second.backtests]
    assert listed == submitted[::-1]
    assert second.next_page_token == ""
