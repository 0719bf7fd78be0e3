"""RedisBacktestRequests on a real Redis: jobs and cancellations reach a subscriber; an outage is reported."""

from __future__ import annotations

import datetime as dt
import json
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from tickstock_server.bus.backtest_requests import RedisBacktestRequests
from tickstock_server.domain.backtests import Backtest, BacktestParameters, BacktestState
from tickstock_server.errors import DependencyUnavailableError

NOW_NS = 1_767_700_800_000_000_000  # 2026-01-06T12:00:00Z
BACKTEST = Backtest(
    backtest_id="backtest_1767700800_0123456789abcdef",
    user="alice",
    state=BacktestState.QUEUED,
    symbols=("AAPL",),
    start_date=dt.date(2025, 1, 2),
    end_date=dt.date(2025, 12, 31),
    patterns=("Doji",),
    parameters=BacktestParameters(),
    create_ns=NOW_NS,
    update_ns=NOW_NS,
)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    connection = aioredis.from_url(redis_url, decode_responses=True)
    try:
        yield connection
    finally:
        await connection.aclose()


@pytest.fixture
def channels() -> tuple[str, str]:
    """Job and cancel channels of this test only."""
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    return prefix + "tickstock.jobs.backtest", prefix + "tickstock.jobs.cancel"


@pytest.fixture
def publisher(client: aioredis.Redis, channels: tuple[str, str]) -> RedisBacktestRequests:
    return RedisBacktestRequests(client, job_channel=channels[0], cancel_channel=channels[1])


async def _next_message(pubsub: Any) -> tuple[str, dict[str, Any]]:
    for _ in range(100):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message is not None:
            return message["channel"], json.loads(message["data"])
    raise AssertionError("no message published within 10 s")


async def test_job_without_subscriber_reaches_nobody(publisher: RedisBacktestRequests) -> None:
    # Act
    receivers = await publisher.publish_job(BACKTEST)

    # Assert
    assert receivers == 0


async def test_job_and_cancel_reach_a_subscriber_on_their_channels(
    client: aioredis.Redis, channels: tuple[str, str], publisher: RedisBacktestRequests
) -> None:
    # Arrange
    job_channel, cancel_channel = channels
    pubsub = client.pubsub()
    await pubsub.subscribe(job_channel, cancel_channel)
    for _ in range(2):  # both confirmations: the subscriptions are live before anything is published
        assert await pubsub.get_message(timeout=5.0) is not None
    try:
        # Act
        receivers = await publisher.publish_job(BACKTEST)
        job = await _next_message(pubsub)
        await publisher.publish_cancel(BACKTEST, now_ns=NOW_NS + 10**9)
        cancel = await _next_message(pubsub)
    finally:
        await pubsub.aclose()

    # Assert
    assert receivers == 1
    assert publisher.job_destination == job_channel
    assert (job[0], job[1]["type"], job[1]["job_id"]) == (
        job_channel,
        "backtest_job",
        BACKTEST.backtest_id,
    )
    assert (cancel[0], cancel[1]["type"], cancel[1]["timestamp"]) == (
        cancel_channel,
        "cancel_job",
        NOW_NS / 10**9 + 1,
    )


async def test_unreachable_redis_raises_dependency_unavailable() -> None:
    # Arrange: a port nobody listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = aioredis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=2)
    publisher = RedisBacktestRequests(client)
    try:
        # Act / Assert
        with pytest.raises(DependencyUnavailableError):
            await publisher.publish_job(BACKTEST)
        with pytest.raises(DependencyUnavailableError):
            await publisher.publish_cancel(BACKTEST, now_ns=NOW_NS)
    finally:
        await client.aclose()
