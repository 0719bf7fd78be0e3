"""The producer simulator on a real Redis: patterns, heartbeat, health, backtest jobs, cancels, restarts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from polling import eventually

from tickstock_server.embedded import EmbeddedRedis
from tickstock_server.patterns.fallback_switch import FallbackSwitch, heartbeat_ns_from_redis
from tickstock_server.producer_sim import (
    DEFAULT_SYMBOLS,
    ProducerChannels,
    ProducerSimulator,
    SimulatorConfig,
)
from tickstock_server.producer_sim.__main__ import run_cli
from tickstock_server.producer_sim.backtests import BacktestJob, simulated_backtest_results
from tickstock_server.producer_sim.contract import backtest_result_message, encode_message, heartbeat_value
from tickstock_server.producer_sim.pattern_stream import PatternGenerator
from tickstock_server.producer_sim.retry import RetryPolicy

NOW_S = 1_767_700_000.125
WAIT_S = 15.0
"""Upper bound for anything awaited; only reached when the behaviour under test is broken."""


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def channels() -> ProducerChannels:
    """The contract's names in a namespace of this test."""
    return ProducerChannels().with_prefix(f"test-{uuid.uuid4().hex[:12]}:")


def fixed_clock() -> float:
    return NOW_S


@contextlib.asynccontextmanager
async def running(simulator: ProducerSimulator) -> AsyncIterator[ProducerSimulator]:
    task = asyncio.create_task(simulator.run())
    try:
        yield simulator
    finally:
        task.cancel()
        await asyncio.wait([task])
        if not task.cancelled() and task.exception() is not None:
            raise AssertionError("the simulator failed") from task.exception()


class Listener:
    """A subscriber on some channels, subscribed (confirmed by the server) before the test goes on."""

    def __init__(self, client: aioredis.Redis, *channels: str) -> None:
        self._pubsub = client.pubsub()
        self._channels = channels

    async def __aenter__(self) -> Listener:
        await self._pubsub.subscribe(*self._channels)
        confirmed = 0
        async with asyncio.timeout(WAIT_S):
            while confirmed < len(self._channels):
                message = await self._pubsub.get_message(timeout=1.0)
                if message is not None and message["type"] == "subscribe":
                    confirmed += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._pubsub.aclose()

    async def next(self) -> tuple[str, Any]:
        """The next message: its channel and decoded JSON payload."""
        async with asyncio.timeout(WAIT_S):
            while True:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    return message["channel"].decode(), json.loads(message["data"])

    async def until(self, done: Callable[[str, Any], bool]) -> list[tuple[str, Any]]:
        """Messages up to and including the first for which `done` is true."""
        received = []
        while True:
            channel, payload = await self.next()
            received.append((channel, payload))
            if done(channel, payload):
                return received


async def subscribed_to_jobs(client: aioredis.Redis, channels: ProducerChannels) -> None:
    async def ready() -> bool:
        counts = dict(await client.pubsub_numsub(channels.backtest_jobs, channels.backtest_cancel))
        return all(count >= 1 for count in counts.values())

    await eventually(ready, timeout_s=WAIT_S)


def job(job_id: str, symbols: list[str], patterns: list[str] | None = None) -> str:
    return json.dumps(
        {
            "type": "backtest_job",
            "job_id": job_id,
            "user_id": "alice",
            "symbols": symbols,
            "start_date": "2024-01-01",
            "end_date": "2024-06-30",
            "patterns": patterns or ["Bull_Flag", "Doji"],
            "parameters": {"initial_capital": 100000},
            "timestamp": NOW_S,
            "source": "tickstock_appv2",
        }
    )


def result_of(job_id: str) -> Callable[[str, Any], bool]:
    return lambda channel, payload: channel.endswith("results") and payload["job_id"] == job_id


# --- patterns, heartbeat, health -----------------------------------------------------------------------


async def test_run_publishes_seeded_burst_then_paced_patterns(
    client: aioredis.Redis, channels: ProducerChannels
) -> None:
    # Arrange
    simulator = ProducerSimulator(
        client, SimulatorConfig(patterns_per_s=50, initial_burst=20, channels=channels), clock_s=fixed_clock
    )
    generator = PatternGenerator(DEFAULT_SYMBOLS, 42)
    expected = [json.loads(encode_message(generator.next_message(NOW_S))) for _ in range(40)]

    # Act
    async with Listener(client, channels.patterns) as listener, running(simulator):
        received = [await listener.next() for _ in range(40)]

    # Assert: exactly the seeded stream, in order; nothing else on the channel.
    assert received == [(channels.patterns, message) for message in expected]


async def test_burst_waits_for_the_first_subscriber(
    client: aioredis.Redis, channels: ProducerChannels
) -> None:
    # Arrange: a simulator already running when the app subscribes (pub/sub keeps nothing for it).
    simulator = ProducerSimulator(
        client, SimulatorConfig(patterns_per_s=0, initial_burst=5, channels=channels), clock_s=fixed_clock
    )
    generator = PatternGenerator(DEFAULT_SYMBOLS, 42)
    expected = [json.loads(encode_message(generator.next_message(NOW_S))) for _ in range(5)]

    # Act
    async with running(simulator):
        await eventually(lambda: client.exists(channels.heartbeat_key))  # the simulator is up
        async with Listener(client, channels.patterns) as listener:
            received = [payload for _, payload in [await listener.next() for _ in range(5)]]

    # Assert
    assert received == expected


async def test_run_sets_heartbeat_key_and_publishes_health(
    client: aioredis.Redis, channels: ProducerChannels
) -> None:
    # Arrange
    simulator = ProducerSimulator(
        client, SimulatorConfig(patterns_per_s=0, initial_burst=3, channels=channels), clock_s=fixed_clock
    )

    # Act
    async with Listener(client, channels.health) as listener, running(simulator):
        channel, health = await listener.next()
        await eventually(lambda: client.exists(channels.heartbeat_key))
        raw = await client.get(channels.heartbeat_key)

    # Assert
    assert channel == channels.health
    assert health["event_type"] == "system_health" and health["source"] == "TickStockPL"
    assert health["data"]["status"] == "healthy"
    assert raw == heartbeat_value(NOW_S).encode()
    heartbeat_ns = heartbeat_ns_from_redis(raw)
    assert heartbeat_ns == 1_767_700_000_125_000_000
    assert FallbackSwitch().observe(heartbeat_ns + 10 * 1_000_000_000, heartbeat_ns) is False


# --- backtest jobs -------------------------------------------------------------------------------------


async def test_published_job_gets_progress_then_completed_result(
    client: aioredis.Redis, channels: ProducerChannels
) -> None:
    # Arrange
    config = SimulatorConfig(patterns_per_s=0, initial_burst=0, backtest_step_s=0.02, channels=channels)
    simulator = ProducerSimulator(client, config, clock_s=fixed_clock)

    # Act
    async with (
        Listener(client, channels.backtest_progress, channels.backtest_results) as listener,
        running(simulator),
    ):
        await subscribed_to_jobs(client, channels)
        await client.publish(channels.backtest_jobs, job("bt-1", ["AAPL", "MSFT"]))
        received = await listener.until(result_of("bt-1"))

    # Assert: 2 symbols -> 4 steps after the first message; the symbol advances half-way.
    *progress, (result_channel, result) = received
    assert [channel for channel, _ in progress] == [channels.backtest_progress] * 5
    assert [p for _, p in progress] == [
        {
            "job_id": "bt-1",
            "progress": step / 4,
            "current_symbol": "AAPL" if step < 2 else "MSFT",
            "estimated_completion": round(NOW_S + (4 - step) * 0.02, 3),
        }
        for step in range(5)
    ]
    assert result_channel == channels.backtest_results
    bt1 = BacktestJob(job_id="bt-1", symbols=("AAPL", "MSFT"), patterns=("Bull_Flag", "Doji"))
    results = simulated_backtest_results(random.Random("42:bt-1"), bt1)
    assert result == backtest_result_message(job_id="bt-1", status="completed", results=results)
    assert simulator.backtests.jobs_completed == 1


async def test_cancel_stops_a_running_job_without_result(
    client: aioredis.Redis, channels: ProducerChannels
) -> None:
    # Arrange: a long job A (50 symbols: 20 steps of 50 ms), and a job B (3 symbols: 6 steps) as a marker.
    config = SimulatorConfig(patterns_per_s=0, initial_burst=0, backtest_step_s=0.05, channels=channels)
    simulator = ProducerSimulator(client, config, clock_s=fixed_clock)
    symbols = [f"S{i}" for i in range(50)]

    # Act
    async with (
        Listener(client, channels.backtest_progress, channels.backtest_results) as listener,
        running(simulator),
    ):
        await subscribed_to_jobs(client, channels)
        await client.publish(channels.backtest_jobs, job("A", symbols))
        await listener.until(lambda _, payload: payload["job_id"] == "A")  # A is running
        await client.publish(channels.backtest_cancel, json.dumps({"job_id": "A", "user_id": "alice"}))
        await client.publish(channels.backtest_jobs, job("B", ["AAPL", "MSFT", "NVDA"]))
        received = await listener.until(result_of("B"))
        await eventually(lambda: _true(simulator.backtests.active_jobs == 0))

    # Assert: once B (handled after the cancel) started, A published at most the one message that may
    # have been in flight when the cancel arrived (a running A would have published about 6), and
    # never a result.
    first_b = next(i for i, (_, payload) in enumerate(received) if payload["job_id"] == "B")
    assert len([p for _, p in received[first_b:] if p["job_id"] == "A"]) <= 1
    assert len([p for _, p in received[first_b:] if p["job_id"] == "B"]) == 8  # 7 progress + result
    assert not any(channel == channels.backtest_results and p["job_id"] == "A" for channel, p in received)
    assert simulator.backtests.jobs_cancelled == 1
    assert simulator.backtests.jobs_completed == 1


async def test_cancel_before_its_job_means_the_job_never_runs(
    client: aioredis.Redis, channels: ProducerChannels
) -> None:
    # Arrange
    config = SimulatorConfig(patterns_per_s=0, initial_burst=0, backtest_step_s=0.01, channels=channels)
    simulator = ProducerSimulator(client, config, clock_s=fixed_clock)

    # Act
    async with (
        Listener(client, channels.backtest_progress, channels.backtest_results) as listener,
        running(simulator),
    ):
        await subscribed_to_jobs(client, channels)
        await client.publish(channels.backtest_cancel, json.dumps({"job_id": "C"}))
        await client.publish(channels.backtest_jobs, job("C", ["AAPL"]))
        await client.publish(channels.backtest_jobs, job("D", ["AAPL"]))
        received = await listener.until(result_of("D"))

    # Assert
    assert {payload["job_id"] for _, payload in received} == {"D"}
    assert simulator.backtests.jobs_cancelled == 1


async def test_invalid_job_gets_failed_result(client: aioredis.Redis, channels: ProducerChannels) -> None:
    # Arrange
    config = SimulatorConfig(patterns_per_s=0, initial_burst=0, channels=channels)
    simulator = ProducerSimulator(client, config, clock_s=fixed_clock)

    # Act
    async with Listener(client, channels.backtest_results) as listener, running(simulator):
        await subscribed_to_jobs(client, channels)
        await client.publish(channels.backtest_jobs, "not json")
        await client.publish(channels.backtest_jobs, json.dumps({"job_id": "E", "symbols": []}))
        _, result = await listener.next()

    # Assert
    assert result == {
        "job_id": "E",
        "status": "failed",
        "results": {"error": "invalid job: symbols must be a non-empty list of strings"},
    }
    assert simulator.backtests.messages_dropped == 1
    assert simulator.backtests.jobs_rejected == 1


# --- resilience and the command line -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_simulator_survives_redis_restart(tmp_path: Path) -> None:
    # Arrange: a Redis of this test only, on a TCP port that stays the same across the restart.
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = EmbeddedRedis(tmp_path / "redis", port=port)
    await asyncio.to_thread(server.start)
    client = aioredis.from_url(url)
    channels = ProducerChannels()
    config = SimulatorConfig(
        patterns_per_s=20,
        initial_burst=1,
        heartbeat_s=0.05,
        channels=channels,
        retry=RetryPolicy(initial_s=0.05, max_s=0.2),
    )
    simulator = ProducerSimulator(client, config)
    try:
        async with running(simulator):
            await eventually(lambda: client.exists(channels.heartbeat_key))

            # Act: restart. The test's probe is a new client: the simulator's pool holds dead connections.
            await asyncio.to_thread(server.stop)
            await asyncio.to_thread(server.start)
            async with aioredis.from_url(url) as probe:
                # The snapshot brings the old heartbeat back; delete it to see a new one written.
                await probe.delete(channels.heartbeat_key)
                async with Listener(probe, channels.patterns, channels.backtest_results) as listener:
                    _, pattern = await listener.next()
                    await eventually(lambda: probe.exists(channels.heartbeat_key))
                    await subscribed_to_jobs(probe, channels)
                    await probe.publish(channels.backtest_jobs, json.dumps({"job_id": "F"}))
                    _, result = (await listener.until(result_of("F")))[-1]

        # Assert: patterns, heartbeats and the job subscription all came back.
        assert pattern["event_type"] == "pattern_detected"
        assert result["status"] == "failed"
    finally:
        await client.aclose()
        await asyncio.to_thread(server.stop)


async def test_cli_with_unreachable_redis_exits_2() -> None:
    # Act
    status = await run_cli(["--redis-url", f"redis://127.0.0.1:{_free_port()}/0", "--duration-s", "1"])

    # Assert
    assert status == 2


async def _true(value: bool) -> bool:
    return value
