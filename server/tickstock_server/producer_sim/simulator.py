"""The TickStockPL producer simulator: patterns, heartbeats, health and backtest answers on Redis."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from tickstock_server.producer_sim.backtests import BacktestResponder
from tickstock_server.producer_sim.contract import (
    ProducerChannels,
    encode_message,
    heartbeat_value,
    system_health_message,
)
from tickstock_server.producer_sim.pattern_stream import PatternGenerator
from tickstock_server.producer_sim.retry import RetryPolicy, run_with_retry
from tickstock_server.simulation.market import synthetic_symbols

__all__ = ["DEFAULT_SYMBOLS", "ProducerSimulator", "SimulatorConfig", "run_simulator"]

_logger = logging.getLogger(__name__)

DEFAULT_SYMBOLS: tuple[str, ...] = synthetic_symbols(200)
"""The first 200 symbols of the synthetic universe: the real large caps and ETFs, then pseudo tickers."""

_SUBSCRIBER_POLL_S = 0.05
_MIN_PATTERN_TICK_S = 0.05
"""Shortest pause of the pattern loop; faster rates publish several patterns per pause."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatorConfig:
    """What the simulated producer publishes, and how often."""

    patterns_per_s: float = 5.0
    """Pattern envelopes per second after the initial burst; 0 publishes only the burst."""
    initial_burst: int = 20
    """Patterns published at once on start, so a scan right after start finds some."""
    burst_wait_s: float = 10.0
    """Longest wait, seconds, for a subscriber on the patterns channel before the initial burst: pub/sub
    keeps nothing for late subscribers, so a simulator started before the server would lose it."""
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    """Symbols the patterns are on. The synthetic universe (`synthetic_symbols(n)`) gets the synthetic
    feed's price levels for the same seed; other lists get random price levels."""
    seed: int = 42
    """Seed of every random draw (42 matches the server's default synthetic feed, so prices agree)."""
    heartbeat_s: float = 15.0
    """Seconds between writes of the heartbeat key."""
    health_interval_s: float = 30.0
    """Seconds between `system_health` messages."""
    backtest_step_s: float = 0.5
    """Seconds between two progress messages of a backtest job."""
    backtest_max_steps: int = 20
    """Most progress messages per job after the first (2 per symbol up to this)."""
    max_backtest_jobs: int = 16
    """Jobs run at once; more are answered with a failed result ("producer busy")."""
    channels: ProducerChannels = field(default_factory=ProducerChannels)
    """Channel and key names; `ProducerChannels.with_prefix` gives a private namespace (tests)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    """Backoff after a Redis error."""

    def __post_init__(self) -> None:
        if self.patterns_per_s < 0 or self.initial_burst < 0 or self.burst_wait_s < 0:
            raise ValueError("patterns_per_s, initial_burst and burst_wait_s must not be negative")
        if not self.symbols:
            raise ValueError("symbols must not be empty")
        if self.heartbeat_s <= 0 or self.health_interval_s <= 0 or self.backtest_step_s < 0:
            raise ValueError("intervals must be positive")
        if self.backtest_max_steps < 2 or self.max_backtest_jobs < 1:
            raise ValueError("need backtest_max_steps >= 2 and max_backtest_jobs >= 1")


class ProducerSimulator:
    """Publishes what TickStockPL publishes, in its exact Redis contract (channels, keys and JSON).

    - Patterns on ``tickstock.events.patterns``: `initial_burst` as soon as someone subscribes (at
      most `burst_wait_s` later), then `patterns_per_s` (paced against the loop clock without drift;
      several per pause at high rates, in one pipeline).
    - ``SET tickstock:producer:heartbeat <epoch float>`` at once and every `heartbeat_s`.
    - A `system_health` envelope on ``tickstock.health.status`` at once and every `health_interval_s`.
    - Backtest jobs from ``tickstock.jobs.backtest`` answered with progress and a result, and stopped
      by ``tickstock.jobs.cancel`` (see `BacktestResponder`).

    Message content is a function of the seed and the clock alone (uuids come from the seeded RNG).
    A Redis error never ends the run: the failing loop logs a warning and retries with backoff, and
    patterns due meanwhile are skipped (not queued), so nothing grows while Redis is away.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        config: SimulatorConfig | None = None,
        *,
        clock_s: Callable[[], float] = time.time,
    ) -> None:
        """Create the simulator; nothing is published until `run`.

        Args:
            client: Redis client to publish with (and to subscribe through, for jobs).
            config: What to publish; the defaults when None.
            clock_s: Wall clock, epoch seconds, for message timestamps.
        """
        self.config = config = config if config is not None else SimulatorConfig()
        self._client = client
        self._clock_s = clock_s
        self._generator = PatternGenerator(config.symbols, config.seed)
        self.backtests = BacktestResponder(
            client,
            config.channels,
            seed=config.seed,
            step_s=config.backtest_step_s,
            max_steps=config.backtest_max_steps,
            max_jobs=config.max_backtest_jobs,
            clock_s=clock_s,
            retry=config.retry,
        )
        self.patterns_published = 0
        self.heartbeats_written = 0
        self._started_s = clock_s()

    async def run(self) -> None:
        """Publish until cancelled."""
        config = self.config
        _logger.info(
            "producer simulator publishing %.1f patterns/s on %d symbols (seed %d) to %s",
            config.patterns_per_s,
            len(config.symbols),
            config.seed,
            config.channels.patterns,
        )
        self._started_s = self._clock_s()
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.backtests.run(), name="producer-sim-backtests")
            tasks.create_task(
                self._every(config.heartbeat_s, "heartbeat", self._heartbeat), name="producer-sim-heartbeat"
            )
            tasks.create_task(
                self._every(config.health_interval_s, "health", self._health), name="producer-sim-health"
            )
            tasks.create_task(
                run_with_retry("patterns", self._patterns, config.retry), name="producer-sim-patterns"
            )

    async def _every(self, interval_s: float, name: str, action: Callable[[], Awaitable[None]]) -> None:
        async def forever() -> None:
            while True:
                await action()
                await asyncio.sleep(interval_s)

        await run_with_retry(name, forever, self.config.retry)

    async def _heartbeat(self) -> None:
        await self._client.set(self.config.channels.heartbeat_key, heartbeat_value(self._clock_s()))
        self.heartbeats_written += 1

    async def _health(self) -> None:
        now_s = self._clock_s()
        message = system_health_message(
            now_s=now_s,
            uptime_s=now_s - self._started_s,
            patterns_published=self.patterns_published,
            active_backtests=self.backtests.active_jobs,
        )
        await self._client.publish(self.config.channels.health, encode_message(message))

    async def _patterns(self) -> None:
        config = self.config
        if self.patterns_published == 0 and config.initial_burst > 0:
            await self._wait_for_subscriber(config.burst_wait_s)
            await self._publish_patterns(config.initial_burst)
        if config.patterns_per_s == 0:
            await asyncio.Event().wait()  # nothing more to publish; wait to be cancelled
        loop = asyncio.get_running_loop()
        interval_s = max(1.0 / config.patterns_per_s, _MIN_PATTERN_TICK_S)
        per_tick = config.patterns_per_s * interval_s
        owed = 0.0
        next_s = loop.time()
        while True:
            next_s += interval_s
            delay_s = next_s - loop.time()
            if delay_s < -interval_s:
                next_s = loop.time()  # fell behind (e.g. a Redis outage): skip, do not catch up
                delay_s = 0.0
            await asyncio.sleep(max(delay_s, 0.0))
            owed += per_tick
            count = int(owed)
            owed -= count
            if count:
                await self._publish_patterns(count)

    async def _wait_for_subscriber(self, wait_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline_s = loop.time() + wait_s
        channel = self.config.channels.patterns
        while True:
            counts = await self._client.pubsub_numsub(channel)
            if any(count > 0 for _, count in counts) or loop.time() >= deadline_s:
                return
            await asyncio.sleep(_SUBSCRIBER_POLL_S)

    async def _publish_patterns(self, count: int) -> None:
        if count == 0:
            return
        now_s = self._clock_s()
        channel = self.config.channels.patterns
        texts = [encode_message(self._generator.next_message(now_s)) for _ in range(count)]
        if count == 1:
            await self._client.publish(channel, texts[0])
        else:
            async with self._client.pipeline(transaction=False) as pipe:
                for text in texts:
                    pipe.publish(channel, text)
                await pipe.execute()
        self.patterns_published += count


async def run_simulator(
    client: aioredis.Redis, config: SimulatorConfig | None = None, *, clock_s: Callable[[], float] = time.time
) -> None:
    """Run a `ProducerSimulator` on `client` until cancelled (the embedded server runs it in-process)."""
    await ProducerSimulator(client, config, clock_s=clock_s).run()
