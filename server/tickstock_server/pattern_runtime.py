"""Builds the pattern side of the service from settings: consumer, cache, fallback, alerts, backtests.

`app.py` owns the TaskGroup; this module gives it the components, the background tasks to run and the
shutdown steps, so the wiring of issue #6 stays in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from tickstock_server.alerts.router import AlertRouter
from tickstock_server.api.backtest_service import BacktestServiceServicer
from tickstock_server.api.pattern_service import PatternServiceServicer, ProducerStatus
from tickstock_server.backtests.config import BacktestJobsConfig
from tickstock_server.backtests.jobs import BacktestJobs
from tickstock_server.bus.pattern_mirror import RedisPatternMirror
from tickstock_server.config import Settings
from tickstock_server.domain.alerts import AlertLimits
from tickstock_server.domain.bar import Bar
from tickstock_server.domain.patterns import Pattern
from tickstock_server.errors import DependencyUnavailableError
from tickstock_server.feeds.synthetic import synthetic_symbols
from tickstock_server.patterns.cache import PatternCache
from tickstock_server.patterns.fallback import FallbackPatternDetector
from tickstock_server.patterns.fallback_switch import FallbackSwitch
from tickstock_server.ports import BarSink
from tickstock_server.producer.consumer import PatternConsumer, PatternConsumerConfig
from tickstock_server.producer.events import BacktestOutcome, BacktestProgress, ProducerHealth
from tickstock_server.producer_sim.simulator import SimulatorConfig, run_simulator
from tickstock_server.storage.alerts import PgAlertStore
from tickstock_server.storage.backtests import PgBacktestStore
from tickstock_server.storage.universes import PgUniverseStore
from tickstock_server.support.metric_samples import Instrumented
from tickstock_server.support.time_units import NS_PER_S

_logger = logging.getLogger(__name__)

_MAINTENANCE_S = 5.0
"""Interval of cache expiry, mirror cleanup and the fallback switch, seconds."""


class _ProducerEvents:
    """The consumer's handler: patterns to the cache (and its mirror), backtest reports to the jobs."""

    def __init__(self, runtime: PatternRuntime) -> None:
        self._runtime = runtime

    def on_pattern(self, pattern: Pattern) -> None:
        self._runtime.add_patterns((pattern,))

    def on_backtest_progress(self, progress: BacktestProgress) -> None:
        self._runtime.jobs.apply_progress(
            progress.job_id,
            progress.progress,
            progress.current_symbol or "",
            progress.estimated_completion_ns,
        )

    def on_backtest_outcome(self, outcome: BacktestOutcome) -> None:
        self._runtime.jobs.apply_outcome(
            outcome.job_id, outcome.status.value, outcome.results, outcome.error or ""
        )

    def on_producer_health(self, health: ProducerHealth) -> None:
        _logger.debug("producer health %s: %s", health.source, health.status)


@dataclass
class FallbackBarSink:
    """A `BarSink` in front of the bar writer that also feeds the fallback detector.

    The detector sees every completed bar, so its history is warm when it takes over; its patterns reach
    the cache only while the switch says the producer is silent.
    """

    writer: BarSink
    runtime: PatternRuntime

    async def put(self, bars: Sequence[Bar]) -> None:
        """Hand bars to the writer (its backpressure applies) and to the detector."""
        self.runtime.detect_fallback(bars)
        await self.writer.put(bars)


class PatternRuntime:
    """The pattern components of one server and their background work."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, redis_client: aioredis.Redis) -> None:
        config = settings.patterns
        self._settings = config
        self._redis = redis_client
        self._run_simulator = config.simulator == "on" or (
            config.simulator == "auto" and settings.redis_url is None
        )
        self._simulator_config = SimulatorConfig(
            seed=settings.feed.seed,
            symbols=synthetic_symbols(min(200, settings.feed.symbols)),
            patterns_per_s=config.simulator_patterns_per_s,
        )
        self.cache = PatternCache(max_patterns=config.max_cached)
        self.mirror = RedisPatternMirror(redis_client, key_prefix=config.key_prefix)
        universes = PgUniverseStore(pool)
        self.alert_store = PgAlertStore(
            pool, AlertLimits(max_subscriptions_per_user=config.alert_max_subscriptions_per_user)
        )
        self.alert_router = AlertRouter(
            resolver=universes.resolve,
            stream_capacity=config.alert_stream_capacity,
            max_streams_per_user=config.alert_max_streams_per_user,
        )
        self.jobs = BacktestJobs(
            store=PgBacktestStore(pool),
            publisher=redis_client,
            config=BacktestJobsConfig(progress_write_interval_s=config.backtest_progress_write_s),
        )
        self.consumer = PatternConsumer(
            redis_client,
            _ProducerEvents(self),
            config=PatternConsumerConfig(default_pattern_ttl_s=config.cache_ttl_s),
        )
        self.fallback = FallbackPatternDetector(ttl_s=round(config.cache_ttl_s)) if config.fallback else None
        self.switch = FallbackSwitch(
            activate_after_s=config.fallback_activate_after_s,
            stand_down_after_s=config.fallback_stand_down_after_s,
        )
        self.cache.add_listener(self._route_alerts)
        self._unmirrored: list[Pattern] = []
        self.pattern_service = PatternServiceServicer(
            cache=self.cache,
            universes=universes,
            alert_store=self.alert_store,
            alert_router=self.alert_router,
            producer_status=self.producer_status,
            max_streams_per_user=config.max_streams_per_user,
        )
        self.backtest_service = BacktestServiceServicer(jobs=self.jobs)

    def _route_alerts(self, pattern: Pattern) -> None:
        self.alert_router.route(pattern, time.time_ns())

    def producer_status(self) -> ProducerStatus:
        """Consumer counters, the producer's heartbeat and whether the fallback is active."""
        return ProducerStatus(
            events_processed=self.consumer.processed_total,
            invalid_messages=self.consumer.invalid_total,
            heartbeat_ns=self.consumer.producer_heartbeat_ns,
            fallback_active=self.switch.active,
        )

    def instruments(self) -> list[Instrumented]:
        """The pattern components that report metrics."""
        return [self.consumer, self.cache, self.switch, self.alert_router, self.jobs]

    def add_patterns(self, patterns: Sequence[Pattern]) -> None:
        """Cache new patterns (alert routing and live streams follow) and queue them for the mirror."""
        cap_ns = time.time_ns() + round(self._settings.cache_ttl_s * NS_PER_S)
        for pattern in patterns:
            if pattern.expires_ns > cap_ns:  # never outlive the cache TTL (the original's 3-day expiry)
                pattern = dataclasses.replace(pattern, expires_ns=cap_ns)
            self.cache.put(pattern)
            self._unmirrored.append(pattern)

    def detect_fallback(self, bars: Sequence[Bar]) -> None:
        """Run completed bars through the fallback detector; cache its patterns while it is active."""
        if self.fallback is None:
            return
        found: list[Pattern] = []
        for bar in bars:
            found += self.fallback.update(bar)
        if found and self.switch.active:
            # Bars run on event time (a replay or the session clock may be hours behind): a fallback
            # pattern is current from now, for the cache TTL.
            now_ns = time.time_ns()
            expires_ns = now_ns + round(self._settings.cache_ttl_s * NS_PER_S)
            self.add_patterns([dataclasses.replace(p, expires_ns=expires_ns) for p in found])

    async def start(self) -> None:
        """Warm the cache from the Redis mirror and load the alert subscriptions."""
        now_ns = time.time_ns()
        with contextlib.suppress(DependencyUnavailableError):
            for pattern in await self.mirror.load(now_ns):
                self.cache.put(pattern, notify=False)
        await self.alert_router.load(await self.alert_store.all_subscriptions())

    def tasks(self) -> dict[str, Coroutine[Any, Any, None]]:
        """Coroutines to run in the server's TaskGroup, by task name."""
        work: dict[str, Coroutine[Any, Any, None]] = {
            "pattern-consumer": self.consumer.run(),
            "pattern-maintenance": self._maintain(),
            "alert-refresh": self._refresh_alerts(),
            "backtest-writer": self.jobs.run(),
        }
        if self._run_simulator:
            work["pl-simulator"] = run_simulator(self._redis, self._simulator_config)
        return work

    async def close(self) -> None:
        """Final writes after the background tasks were cancelled (before the pool closes)."""
        self.alert_router.shutdown()
        with contextlib.suppress(DependencyUnavailableError):
            await self.jobs.flush()
        with contextlib.suppress(DependencyUnavailableError):
            await self._flush_mirror()

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(_MAINTENANCE_S)
            now_ns = time.time_ns()
            self.cache.expire(now_ns)
            self.switch.observe(now_ns, self.consumer.producer_heartbeat_ns)
            try:
                await self._flush_mirror()
                await self.mirror.cleanup(now_ns)
            except DependencyUnavailableError:
                _logger.warning("pattern mirror unreachable; %d patterns wait", len(self._unmirrored))

    async def _flush_mirror(self) -> None:
        if self._unmirrored:
            batch, self._unmirrored = self._unmirrored, []
            try:
                await self.mirror.store(batch)
            except DependencyUnavailableError:
                self._unmirrored = batch[-self._settings.max_cached :] + self._unmirrored
                raise

    async def _refresh_alerts(self) -> None:
        while True:
            await asyncio.sleep(self._settings.alert_refresh_s)
            try:
                await self.alert_router.load(await self.alert_store.all_subscriptions())
            except DependencyUnavailableError:
                _logger.warning("could not refresh alert subscriptions: PostgreSQL is unavailable")
