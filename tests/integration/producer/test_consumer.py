"""PatternConsumer on a real Redis: a malformed flood, handler errors, a restart, a dead link, heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import random
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from polling import eventually

from tickstock_server.bus.producer_subscription import producer_link
from tickstock_server.domain.backtests import BacktestState, OutcomeReport
from tickstock_server.domain.patterns import Pattern
from tickstock_server.embedded import EmbeddedRedis
from tickstock_server.producer.consumer import (
    PatternConsumer,
    PatternConsumerConfig,
    ProducerChannels,
)
from tickstock_server.producer.events import (
    BacktestProgress,
    ProducerHealth,
)
from tickstock_server.producer.messages import REJECT_REASONS

DETECTED_S = 1_767_700_000.0
CONSUMER_LOGGER = "tickstock_server.producer.consumer"
FAST = PatternConsumerConfig(
    reconnect_initial_s=0.05, reconnect_max_s=0.2, heartbeat_poll_s=0.05, socket_timeout_s=2.0
)
SMALL_LIMIT = dataclasses.replace(FAST, max_message_bytes=2_048)
"""Oversized messages of a few KiB keep the flood small."""


class RecordingHandler:
    """Keeps everything delivered, in order; raises for patterns on `failing_symbol`."""

    def __init__(self, failing_symbol: str | None = None) -> None:
        self.patterns: list[Pattern] = []
        self.progress: list[BacktestProgress] = []
        self.outcomes: list[OutcomeReport] = []
        self.health: list[ProducerHealth] = []
        self._failing_symbol = failing_symbol

    def on_pattern(self, pattern: Pattern) -> None:
        if pattern.symbol == self._failing_symbol:
            raise RuntimeError("handler bug")
        self.patterns.append(pattern)

    def on_backtest_progress(self, progress: BacktestProgress) -> None:
        self.progress.append(progress)

    def on_backtest_outcome(self, report: OutcomeReport) -> None:
        self.outcomes.append(report)

    def on_producer_health(self, health: ProducerHealth) -> None:
        self.health.append(health)


def pattern_message(index: int, symbol: str = "AAPL") -> bytes:
    return json.dumps(
        {
            "event_type": "pattern_detected",
            "source": "TickStockPL",
            "timestamp": DETECTED_S + index + 0.5,
            "data": {
                "symbol": symbol,
                "pattern": "Bull_Flag",
                "confidence": 0.8,
                "flow_id": f"flow-{index}",
                "tier": "intraday",
                "timestamp": DETECTED_S + index,
                "indicators": {"relative_strength": 1.2, "relative_volume": 1.5, "rsi": 55.0},
            },
        }
    ).encode()


def malformed(rng: random.Random) -> bytes:
    """A message no parser accepts, of a random kind."""
    valid = json.loads(pattern_message(rng.randrange(1000)))
    kind = rng.randrange(7)
    if kind == 0:
        return b"\xff" + rng.randbytes(rng.randrange(0, 200))  # never UTF-8
    if kind == 1:
        raw = json.dumps(valid).encode()
        return raw[: rng.randrange(1, len(raw))]  # every proper prefix of an object is invalid
    if kind == 2:
        return json.dumps(rng.choice([[1, 2], "text", 3.5, None, True])).encode()
    if kind == 3:
        return b"[" * rng.randrange(2_049, 3_000)  # oversized for SMALL_LIMIT
    if kind == 4:
        valid["data"]["confidence"] = rng.choice(["high", 85, -1, True, None])
    elif kind == 5:
        valid["data"][rng.choice(["symbol", "confidence"])] = None if rng.random() < 0.5 else [1]
    else:
        del valid["data"][rng.choice(["symbol", "confidence", "pattern"])]
    return json.dumps(valid).encode()


@contextlib.asynccontextmanager
async def running(consumer: PatternConsumer) -> AsyncIterator[asyncio.Task[None]]:
    """Run `consumer` until the block ends; yields its task, and waits until it is subscribed."""
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(lambda: consumer.connected or task.done())
        assert not task.done()
        yield task
    finally:
        task.cancel()
        await asyncio.wait((task,))
    assert task.cancelled()  # it ran until cancelled: it never failed on its own
    assert not consumer.connected


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.from_url(redis_url)
    try:
        yield redis
    finally:
        await redis.aclose()


@pytest.fixture
def channels() -> ProducerChannels:
    return ProducerChannels().with_prefix(f"test-{uuid.uuid4().hex[:12]}:")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True, kw_only=True)
class OwnRedis:
    server: EmbeddedRedis
    url: str
    """TCP URL: the same before and after a restart (the unix socket path may not be)."""


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A Redis of this test alone, on a fixed TCP port, so it can be stopped and started again."""
    port = free_port()
    server = EmbeddedRedis(tmp_path / "redis", port=port)
    server.start()
    try:
        yield OwnRedis(server=server, url=f"redis://127.0.0.1:{port}")
    finally:
        server.stop()


# --- a flood of malformed messages --------------------------------------------------------------------------


async def test_ten_thousand_malformed_messages_are_counted_and_valid_ones_delivered_in_order(
    client: aioredis.Redis, channels: ProducerChannels, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange: 100 valid patterns at random places among 10,000 malformed messages on all four channels,
    # plus one valid message of each other kind.
    rng = random.Random(6)
    names = [channels.patterns, channels.backtest_progress, channels.backtest_results, channels.health]
    stream: list[tuple[str, bytes]] = [(rng.choice(names), malformed(rng)) for _ in range(10_000)]
    for index, position in enumerate(sorted(rng.sample(range(10_100), 100))):
        stream.insert(position, (channels.patterns, pattern_message(index)))  # flow-0 comes first
    stream.insert(
        rng.randrange(len(stream)), (channels.backtest_progress, b'{"job_id": "j1", "progress": 0.5}')
    )
    stream.insert(
        rng.randrange(len(stream)), (channels.backtest_results, b'{"job_id": "j1", "status": "failed"}')
    )
    stream.insert(
        rng.randrange(len(stream)), (channels.health, b'{"event_type": "system_health", "data": {}}')
    )
    handler = RecordingHandler()
    consumer = PatternConsumer(
        producer_link(client, SMALL_LIMIT), handler, channels=channels, config=SMALL_LIMIT
    )
    caplog.set_level(logging.WARNING, logger=CONSUMER_LOGGER)

    async with running(consumer) as task:
        # Act
        for start in range(0, len(stream), 1_000):
            pipe = client.pipeline(transaction=False)
            for channel, raw in stream[start : start + 1_000]:
                pipe.publish(channel, raw)
            assert all(receivers == 1 for receivers in await pipe.execute())
        await eventually(lambda: consumer.processed_total + consumer.invalid_total == len(stream))

        # Assert: still running and connected, every malformed message counted under a known reason.
        assert not task.done()
        assert consumer.connected
        assert consumer.invalid_total == 10_000
        assert sum(consumer.invalid_by_reason.values()) == 10_000
        assert set(consumer.invalid_by_reason) <= REJECT_REASONS
        assert consumer.processed_total == 103
        assert consumer.reconnects == 0
    assert [pattern.flow_id for pattern in handler.patterns] == [f"flow-{index}" for index in range(100)]
    assert [(p.job_id, p.progress) for p in handler.progress] == [("j1", 0.5)]
    assert [(o.backtest_id, o.outcome.state) for o in handler.outcomes] == [("j1", BacktestState.FAILED)]
    assert len(handler.health) == 1
    # Each reason was logged once: the run took less than the one-minute log interval.
    rejected_logs = [
        r
        for r in caplog.records
        if r.name == CONSUMER_LOGGER and r.getMessage().startswith("Rejected a message")
    ]
    assert len(rejected_logs) == len(consumer.invalid_by_reason)


async def test_handler_error_is_counted_and_later_messages_still_delivered(
    client: aioredis.Redis, channels: ProducerChannels
) -> None:
    # Arrange
    handler = RecordingHandler(failing_symbol="MSFT")
    consumer = PatternConsumer(producer_link(client, FAST), handler, channels=channels, config=FAST)

    async with running(consumer):
        # Act
        for index, symbol in enumerate(["AAPL", "MSFT", "NVDA"]):
            await client.publish(channels.patterns, pattern_message(index, symbol))
        await eventually(lambda: consumer.processed_total + consumer.invalid_total == 3)

        # Assert
        assert dict(consumer.invalid_by_reason) == {"handler_error": 1}
        assert consumer.processed_total == 2
    assert [pattern.symbol for pattern in handler.patterns] == ["AAPL", "NVDA"]


async def test_pattern_expired_is_ignored_not_rejected(
    client: aioredis.Redis, channels: ProducerChannels
) -> None:
    handler = RecordingHandler()
    consumer = PatternConsumer(producer_link(client, FAST), handler, channels=channels, config=FAST)

    async with running(consumer):
        await client.publish(
            channels.patterns, b'{"event_type": "pattern_expired", "data": {"symbol": "AAPL"}}'
        )
        await eventually(lambda: consumer.ignored_total == 1)

        assert (consumer.processed_total, consumer.invalid_total, handler.patterns) == (0, 0, [])


# --- rate-limited logging -----------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now_ns = 1_767_700_000_000_000_000

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> None:
        self.now_ns += round(seconds * 1_000_000_000)


async def test_each_reject_reason_is_logged_at_most_once_per_interval(
    client: aioredis.Redis, channels: ProducerChannels, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange: handle_message directly (no subscription needed) with a clock under control.
    clock = FakeClock()
    consumer = PatternConsumer(
        producer_link(client, PatternConsumerConfig()), RecordingHandler(), channels=channels, clock_ns=clock
    )
    caplog.set_level(logging.WARNING, logger=CONSUMER_LOGGER)

    # Act
    consumer.handle_message(channels.patterns, b"not json")  # logged
    clock.advance(30)
    consumer.handle_message(channels.patterns, b"still not json")  # within the minute: counted only
    consumer.handle_message(channels.patterns, b"[1]")  # another reason: logged
    clock.advance(31)
    consumer.handle_message(channels.health.encode(), b"{")  # a minute after the first: logged again
    consumer.handle_message(b"some.other.channel", b"{}")  # logged

    # Assert
    assert [r.getMessage().split(" (")[0] for r in caplog.records if r.name == CONSUMER_LOGGER] == [
        f"Rejected a message on {channels.patterns}: not_json",
        f"Rejected a message on {channels.patterns}: not_object",
        f"Rejected a message on {channels.health}: not_json",
        "Rejected a message on some.other.channel: unknown_channel",
    ]
    assert dict(consumer.invalid_by_reason) == {"not_json": 3, "not_object": 1, "unknown_channel": 1}
    assert consumer.invalid_total == 5
    assert consumer.last_message_ns is None


async def test_delivered_message_sets_last_message_time(
    client: aioredis.Redis, channels: ProducerChannels
) -> None:
    clock = FakeClock()
    handler = RecordingHandler()
    consumer = PatternConsumer(
        producer_link(client, PatternConsumerConfig()), handler, channels=channels, clock_ns=clock
    )

    consumer.handle_message(channels.patterns.encode(), pattern_message(1))

    assert consumer.last_message_ns == clock.now_ns
    assert consumer.processed_total == 1
    assert [pattern.pattern_id for pattern in handler.patterns] == [
        "AAPL:Bull_Flag:1767700001000000000:flow-1"
    ]


# --- connection loss ----------------------------------------------------------------------------------------


async def test_redis_restart_mid_stream_reconnects_and_receives_later_messages(own_redis: OwnRedis) -> None:
    # Arrange
    before, after = aioredis.from_url(own_redis.url), aioredis.from_url(own_redis.url)
    handler = RecordingHandler()
    consumer = PatternConsumer(producer_link(before, FAST, jitter_rng=random.Random(1)), handler, config=FAST)
    try:
        async with running(consumer):
            for index in range(5):
                await before.publish(ProducerChannels().patterns, pattern_message(index))
            await eventually(lambda: len(handler.patterns) == 5)

            # Act: stop Redis; the consumer notices and retries until it is back.
            await asyncio.to_thread(own_redis.server.stop)
            await eventually(lambda: not consumer.connected)
            await asyncio.to_thread(own_redis.server.start)
            await eventually(lambda: consumer.connected)
            for index in range(5, 10):  # a client that never saw the old server (no stale connection)
                await after.publish(ProducerChannels().patterns, pattern_message(index))
            await eventually(lambda: len(handler.patterns) == 10)

            # Assert
            assert consumer.reconnects == 1
            assert consumer.invalid_total == 0
    finally:
        await before.aclose()
        await after.aclose()
    assert [pattern.flow_id for pattern in handler.patterns] == [f"flow-{index}" for index in range(10)]


async def test_silent_connection_is_detected_by_ping_and_replaced(own_redis: OwnRedis) -> None:
    # Arrange: a consumer that PINGs after 0.2 s of silence.
    admin = aioredis.from_url(own_redis.url)
    handler = RecordingHandler()
    config = PatternConsumerConfig(reconnect_initial_s=0.05, reconnect_max_s=0.2, idle_ping_s=0.2)
    consumer = PatternConsumer(producer_link(admin, config), handler, config=config)
    try:
        async with running(consumer):
            # Act: Redis stops answering (every client paused for 1.5 s), as behind a dead link.
            await admin.execute_command("CLIENT", "PAUSE", "1500", "ALL")
            await eventually(lambda: not consumer.connected)
            await eventually(lambda: consumer.connected)
            await admin.publish(ProducerChannels().patterns, pattern_message(1))
            await eventually(lambda: len(handler.patterns) == 1)

            # Assert
            assert consumer.reconnects == 1
    finally:
        await admin.aclose()


# --- heartbeat ----------------------------------------------------------------------------------------------


async def test_heartbeat_key_is_read_and_malformed_or_missing_reads_as_none(
    client: aioredis.Redis, channels: ProducerChannels
) -> None:
    consumer = PatternConsumer(
        producer_link(client, FAST), RecordingHandler(), channels=channels, config=FAST
    )
    async with running(consumer):
        assert consumer.producer_heartbeat_ns is None

        await client.set(channels.heartbeat_key, "1767700000.123456789")
        await eventually(lambda: consumer.producer_heartbeat_ns is not None)
        assert consumer.producer_heartbeat_ns == 1_767_700_000_123_456_789  # no float rounding

        await client.set(channels.heartbeat_key, "soon")
        await eventually(lambda: consumer.producer_heartbeat_ns is None)

        await client.set(channels.heartbeat_key, "1767700060")
        await eventually(lambda: consumer.producer_heartbeat_ns == 1_767_700_060_000_000_000)

        await client.delete(channels.heartbeat_key)
        await eventually(lambda: consumer.producer_heartbeat_ns is None)


def test_prefix_renames_every_channel_and_the_key() -> None:
    prefixed = ProducerChannels().with_prefix("t1:")

    assert prefixed == ProducerChannels(
        patterns="t1:tickstock.events.patterns",
        backtest_progress="t1:tickstock.events.backtesting.progress",
        backtest_results="t1:tickstock.events.backtesting.results",
        health="t1:tickstock.health.status",
        backtest_jobs="t1:tickstock.jobs.backtest",
        backtest_cancel="t1:tickstock.jobs.cancel",
        heartbeat_key="t1:tickstock:producer:heartbeat",
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"max_message_bytes": 0},
        {"reconnect_initial_s": 0},
        {"reconnect_initial_s": 2.0, "reconnect_max_s": 1.0},
        {"idle_ping_s": 0},
        {"heartbeat_poll_s": -1},
        {"log_interval_s": -1},
    ],
)
def test_config_out_of_range_raises(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        PatternConsumerConfig(**overrides)
