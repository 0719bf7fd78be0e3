"""BacktestService over the in-process server with real Redis and PostgreSQL; the test plays the producer."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import grpc
import pytest
import redis.asyncio
from api_server import ApiServer, ServerFactory
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tickstock.v1 import backtest_service_pb2 as pb
from tickstock.v1 import backtest_service_pb2_grpc, common_pb2
from tickstock_server.api.backtest_service import BacktestServiceServicer
from tickstock_server.backtests.config import BacktestJobsConfig
from tickstock_server.backtests.jobs import BacktestJobs
from tickstock_server.domain.backtests import BacktestOutcome, BacktestResult, BacktestState
from tickstock_server.embedded import EmbeddedPostgres, EmbeddedRedis
from tickstock_server.storage.backtests import PgBacktestStore
from tickstock_server.storage.database import create_pool
from tickstock_server.storage.migrate import apply_migrations

pytestmark = pytest.mark.integration

BACKTEST_SERVICE = "tickstock.v1.BacktestService"
Metadata = tuple[tuple[str, str], ...]


# --- real servers (the URLs CI passes, else embedded ones for this module) ------------------------------


def _server_url(env_name: str, make: Any, directory: Path) -> Iterator[str]:
    if url := os.environ.get(env_name):
        yield url
        return
    server = make(directory)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def backtest_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _server_url("TICKSTOCK_TEST_REDIS_URL", EmbeddedRedis, tmp_path_factory.mktemp("redis"))


@pytest.fixture(scope="module")
def backtest_postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("postgres") / "data"
    yield from _server_url("TICKSTOCK_TEST_DATABASE_URL", EmbeddedPostgres, directory)


@pytest.fixture
async def backtest_pool(backtest_postgres_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh, migrated database, dropped after the test."""
    name = f"tickstock_test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(backtest_postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = urlunsplit(urlsplit(backtest_postgres_url)._replace(path=f"/{name}"))
        pool = await create_pool(url, min_size=1, max_size=4)
        try:
            await apply_migrations(pool)
            yield pool
        finally:
            await pool.close()
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@dataclass
class Producer:
    """The test's side of the Redis channels, standing in for TickStockPL."""

    pubsub: Any
    config: BacktestJobsConfig

    async def next_message(self) -> tuple[str, dict[str, Any]]:
        """The next job or cancel message published (channel, decoded JSON)."""
        for _ in range(100):
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message is not None:
                return message["channel"], json.loads(message["data"])
        raise AssertionError("no message published within 10 s")


@dataclass
class Harness:
    api: ApiServer
    jobs: BacktestJobs
    producer: Producer
    stub: backtest_service_pb2_grpc.BacktestServiceStub
    alice: Metadata
    bob: Metadata


@pytest.fixture
async def harness(
    start_api_server: ServerFactory, backtest_redis_url: str, backtest_pool: asyncpg.Pool
) -> AsyncIterator[Harness]:
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    config = BacktestJobsConfig(
        job_channel=prefix + "tickstock.jobs.backtest",
        cancel_channel=prefix + "tickstock.jobs.cancel",
        progress_write_interval_s=0.05,
    )
    client = redis.asyncio.from_url(backtest_redis_url, decode_responses=True)
    pubsub = client.pubsub()
    await pubsub.subscribe(config.job_channel, config.cancel_channel)
    for _ in range(2):  # both confirmations: the subscriptions are live before anything is published
        assert await pubsub.get_message(timeout=5.0) is not None
    jobs = BacktestJobs(store=PgBacktestStore(backtest_pool), publisher=client, config=config)
    writer = asyncio.create_task(jobs.run())
    api: ApiServer = await start_api_server(
        extra_servicers={BACKTEST_SERVICE: BacktestServiceServicer(jobs=jobs)}
    )
    bob = await api.keys.create("bob")
    try:
        yield Harness(
            api=api,
            jobs=jobs,
            producer=Producer(pubsub=pubsub, config=config),
            stub=backtest_service_pb2_grpc.BacktestServiceStub(api.channel),
            alice=api.metadata,
            bob=(("authorization", f"Bearer {bob.token}"),),
        )
    finally:
        writer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writer
        await pubsub.aclose()
        await client.aclose()


def _request(**changes: Any) -> pb.SubmitBacktestRequest:
    request = pb.SubmitBacktestRequest(
        symbols=["aapl", "MSFT"],
        start_date=common_pb2.Date(year=2025, month=1, day=2),
        end_date=common_pb2.Date(year=2025, month=12, day=31),
        patterns=["Bull_Flag"],
        parameters=pb.BacktestParameters(initial_capital=50_000, stop_loss_pct=0.02),
    )
    for name, value in changes.items():
        request.ClearField(name)
        if isinstance(value, list):
            getattr(request, name).extend(value)
        else:
            getattr(request, name).CopyFrom(value)
    return request


async def _submit(h: Harness) -> pb.Backtest:
    response = await h.stub.SubmitBacktest(_request(), metadata=h.alice)
    await h.producer.next_message()
    return response.backtest


def _violations(error: grpc.aio.AioRpcError) -> set[str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    fields: set[str] = set()
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            fields |= {violation.field for violation in bad_request.field_violations}
    return fields


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
    assert channel == harness.producer.config.job_channel
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


async def test_invalid_submission_is_invalid_argument_with_field_violations(harness: Harness) -> None:
    # Arrange
    request = _request(
        symbols=[f"S{index}" for index in range(51)],
        start_date=common_pb2.Date(year=2025, month=6, day=1),
        end_date=common_pb2.Date(year=2025, month=1, day=1),
        parameters=pb.BacktestParameters(commission_rate=0.5),
    )

    # Act
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await harness.stub.SubmitBacktest(request, metadata=harness.alice)

    # Assert
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert _violations(raised.value) == {"symbols", "end_date", "parameters.commission_rate"}


async def test_another_users_backtest_is_not_found(harness: Harness) -> None:
    # Arrange
    backtest = await _submit(harness)
    backtest_id = backtest.backtest_id

    # Act / Assert
    for call in (
        harness.stub.GetBacktest(pb.GetBacktestRequest(backtest_id=backtest_id), metadata=harness.bob),
        harness.stub.CancelBacktest(pb.CancelBacktestRequest(backtest_id=backtest_id), metadata=harness.bob),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() is grpc.StatusCode.NOT_FOUND
    stream = harness.stub.StreamBacktest(
        pb.StreamBacktestRequest(backtest_id=backtest_id), metadata=harness.bob
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stream.read()
    assert raised.value.code() is grpc.StatusCode.NOT_FOUND
    listed = await harness.stub.ListBacktests(pb.ListBacktestsRequest(), metadata=harness.bob)
    assert list(listed.backtests) == []


@pytest.mark.parametrize("backtest_id", ["backtest_1_\x00ff", "x" * 10_000, ""])
async def test_an_id_no_backtest_can_have_is_not_found_not_internal(
    harness: Harness, backtest_id: str
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
        assert raised.value.code() is grpc.StatusCode.NOT_FOUND
        assert len(raised.value.details() or "") < 200


@pytest.mark.parametrize(
    "payload",
    [
        {"t": 10**30, "i": "backtest_1_ab", "u": hashlib.sha256(b"alice").hexdigest()[:16]},
        {"t": 1, "i": "a\x00b", "u": hashlib.sha256(b"alice").hexdigest()[:16]},
    ],
)
async def test_a_forged_page_token_is_invalid_argument(harness: Harness, payload: dict[str, object]) -> None:
    token = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await harness.stub.ListBacktests(pb.ListBacktestsRequest(page_token=token), metadata=harness.alice)

    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT


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
    assert channel == harness.producer.config.cancel_channel
    assert (message["type"], message["job_id"], message["source"]) == (
        "cancel_job",
        backtest.backtest_id,
        "tickstock",
    )


async def test_cancel_completed_backtest_is_invalid_argument(harness: Harness) -> None:
    # Arrange
    backtest = await _submit(harness)
    harness.jobs.apply_outcome(
        backtest.backtest_id,
        BacktestOutcome(state=BacktestState.COMPLETED, result=BacktestResult(total_return=0.1)),
    )
    await harness.jobs.flush()

    # Act
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await harness.stub.CancelBacktest(
            pb.CancelBacktestRequest(backtest_id=backtest.backtest_id), metadata=harness.alice
        )

    # Assert
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert _violations(raised.value) == {"backtest_id"}


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
