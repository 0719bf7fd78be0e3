"""BacktestService over gRPC: the per-user quota is RESOURCE_EXHAUSTED, and a second user's job is dispatched
round robin before the first user's later ones, never refused while within its quota."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from api_server import ServerFactory
from backtest_api import Harness, Metadata, running_backtests
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from polling import eventually

from tickstock.v1 import backtest_service_pb2 as pb
from tickstock.v1 import common_pb2
from tickstock_server.backtests.config import BacktestJobsConfig
from tickstock_server.domain.backtests import BacktestOutcome, BacktestResult, BacktestState

QUOTA = BacktestJobsConfig().max_active_per_user


@pytest.fixture
async def harness(start_api_server: ServerFactory) -> AsyncIterator[Harness]:
    async with running_backtests(start_api_server, max_in_flight=1) as harness:
        yield harness


async def _submit(h: Harness, metadata: Metadata) -> pb.Backtest:
    request = pb.SubmitBacktestRequest(
        symbols=["AAPL"],
        start_date=common_pb2.Date(year=2025, month=1, day=2),
        end_date=common_pb2.Date(year=2025, month=12, day=31),
        patterns=["Doji"],
    )
    return (await h.stub.SubmitBacktest(request, metadata=metadata)).backtest


def _reason(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    [info] = [detail for detail in status.details if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    unpacked = error_details_pb2.ErrorInfo()
    info.Unpack(unpacked)
    return unpacked.reason


async def test_a_submission_beyond_the_users_quota_is_resource_exhausted(harness: Harness) -> None:
    # Arrange
    for _ in range(QUOTA):
        await _submit(harness, harness.alice)

    # Act
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _submit(harness, harness.alice)

    # Assert
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"at most {QUOTA} backtests queued or running" in (refused.value.details() or "")
    assert _reason(refused.value) == "LIMIT_EXCEEDED"
    assert harness.jobs.stats().refused_over_quota == 1


async def test_another_users_job_waits_queued_and_goes_before_the_busy_users_later_ones(
    harness: Harness,
) -> None:
    # Arrange: alice fills the producer (one job in flight) and queues the rest of her quota
    alices = [await _submit(harness, harness.alice) for _ in range(QUOTA)]

    # Act
    bobs = await _submit(harness, harness.bob)
    waiting = await harness.stub.GetBacktest(
        pb.GetBacktestRequest(backtest_id=bobs.backtest_id), metadata=harness.bob
    )
    harness.jobs.apply_outcome(
        alices[0].backtest_id, BacktestOutcome(state=BacktestState.COMPLETED, result=BacktestResult())
    )
    await eventually(lambda: len(harness.publisher.jobs) == 2)

    # Assert
    assert (bobs.state, waiting.backtest.state) == (pb.BACKTEST_STATE_QUEUED, pb.BACKTEST_STATE_QUEUED)
    assert [job.backtest_id for job in harness.publisher.jobs] == [alices[0].backtest_id, bobs.backtest_id]
