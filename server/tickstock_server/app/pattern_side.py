"""Builds the producer link, the pattern cache, alerts and backtests from settings, and runs them.

The producer's consumer hands patterns to the pattern service and backtest reports to the jobs; the
alert router follows the cache. `PatternSide.running` starts their background work and, on exit, stops
it and makes the final writes (before the connection pool closes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
import redis.asyncio as aioredis

from tickstock_server.alerts.router import AlertRouter
from tickstock_server.alerts.service import AlertService
from tickstock_server.api.backtest_service import BacktestServiceServicer
from tickstock_server.api.pattern_service import PatternServiceServicer, ProducerStatus
from tickstock_server.app.fallback_patterns import SWITCH_OBSERVE_S, fallback_feed
from tickstock_server.backtests.config import BacktestJobsConfig
from tickstock_server.backtests.jobs import BacktestJobs
from tickstock_server.bus.backtest_requests import RedisBacktestRequests
from tickstock_server.bus.pattern_mirror import RedisPatternMirror
from tickstock_server.bus.producer_subscription import producer_link
from tickstock_server.config import Settings
from tickstock_server.domain.alerts import AlertLimits
from tickstock_server.domain.backtests import OutcomeReport
from tickstock_server.domain.patterns import Pattern
from tickstock_server.errors import DependencyUnavailableError
from tickstock_server.patterns.cache import PatternCache
from tickstock_server.patterns.fallback_feed import FallbackBarSink
from tickstock_server.patterns.service import PatternRules, PatternService
from tickstock_server.ports.alerts import AlertStore
from tickstock_server.ports.bars import BarSink
from tickstock_server.producer.consumer import PatternConsumer, PatternConsumerConfig
from tickstock_server.producer.events import BacktestProgress, ProducerHealth
from tickstock_server.producer_sim.simulator import SimulatorConfig, run_simulator
from tickstock_server.storage.alerts import PgAlertStore
from tickstock_server.storage.backtests import PgBacktestStore
from tickstock_server.storage.universes import PgUniverseStore
from tickstock_server.support.cancellation import cancel_and_wait
from tickstock_server.support.metric_samples import Instrumented
from tickstock_server.universes.service import UniverseCatalog

_logger = logging.getLogger(__name__)


class _ProducerEvents:
    """The consumer's handler: patterns to the pattern service, backtest reports to the jobs."""

    def __init__(self, patterns: PatternService, jobs: BacktestJobs) -> None:
        self._patterns = patterns
        self._jobs = jobs

    def on_pattern(self, pattern: Pattern) -> None:
        self._patterns.add_patterns((pattern,))

    def on_backtest_progress(self, progress: BacktestProgress) -> None:
        self._jobs.apply_progress(
            progress.job_id,
            progress.progress,
            progress.current_symbol or "",
            progress.estimated_completion_ns,
        )

    def on_backtest_outcome(self, report: OutcomeReport) -> None:
        self._jobs.apply_outcome(report.backtest_id, report.outcome)

    def on_producer_health(self, health: ProducerHealth) -> None:
        _logger.debug("producer health %s: %s", health.source, health.status)


class PatternSide:
    """The pattern components of one server, their servicers and their background work."""

    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        redis_client: aioredis.Redis,
        *,
        simulator: SimulatorConfig | None,
        fallback_active: Callable[[], bool] | None = None,
    ) -> None:
        """Build every component; nothing runs until `running`, which also runs `simulator` if given.

        `fallback_active` tells a gateway whether the ingest's fallback detector is active; without it
        (the all-in-one server) the fallback detector runs here, fed by `fallback_bars`.
        """
        config = settings.patterns
        self._settings = config
        self._redis = redis_client
        self._simulator = simulator
        universes = UniverseCatalog(PgUniverseStore(pool))
        self.alert_store: AlertStore = PgAlertStore(pool)
        self.alert_router = AlertRouter(
            resolver=universes.resolve,
            stream_capacity=config.alert_stream_capacity,
            max_streams_per_user=config.alert_max_streams_per_user,
        )
        alerts = AlertService(
            store=self.alert_store,
            universes=universes,
            router=self.alert_router,
            limits=AlertLimits(max_subscriptions_per_user=config.alert_max_subscriptions_per_user),
        )
        self.jobs = BacktestJobs(
            store=PgBacktestStore(pool),
            publisher=RedisBacktestRequests(redis_client),
            config=BacktestJobsConfig(
                progress_write_interval_s=config.backtest_progress_write_s,
                max_active_per_user=config.backtest_max_active_per_user,
                max_in_flight=config.backtest_max_in_flight,
                dispatch_silence_s=config.backtest_dispatch_silence_s,
            ),
        )
        self.patterns = PatternService(
            cache=PatternCache(max_patterns=config.max_cached),
            mirror=RedisPatternMirror(redis_client, key_prefix=config.key_prefix),
            rules=PatternRules(ttl_s=config.cache_ttl_s),
            clock_ns=time.time_ns,
        )
        self.fallback = fallback_feed(config) if fallback_active is None else None
        self._fallback_active = fallback_active or self._local_fallback_active
        consumer_config = PatternConsumerConfig(default_pattern_ttl_s=config.cache_ttl_s)
        self.consumer = PatternConsumer(
            producer_link(redis_client, consumer_config),
            _ProducerEvents(self.patterns, self.jobs),
            config=consumer_config,
        )
        self.patterns.cache.add_listener(self._route_alerts)
        self.pattern_service = PatternServiceServicer(
            cache=self.patterns.cache,
            universes=universes,
            alerts=alerts,
            alert_router=self.alert_router,
            producer_status=self.producer_status,
            max_streams_per_user=config.max_streams_per_user,
        )
        self.backtest_service = BacktestServiceServicer(backtests=self.jobs.service)

    def fallback_bars(self, writer: BarSink) -> BarSink:
        """`writer` with this process's fallback detector in front of it, if it runs one."""
        if self.fallback is None:
            return writer
        return FallbackBarSink(writer, self.fallback, self.patterns.add_patterns)

    def _local_fallback_active(self) -> bool:
        return self.fallback is not None and self.fallback.switch.active

    def instruments(self) -> list[Instrumented]:
        """The pattern components that report metrics."""
        fallback = [] if self.fallback is None else [self.fallback]
        return [self.consumer, self.patterns.cache, *fallback, self.alert_router, self.jobs]

    def _producer_heartbeat_ns(self) -> int | None:
        return self.consumer.producer_heartbeat_ns

    def _route_alerts(self, pattern: Pattern) -> None:
        self.alert_router.route(pattern, time.time_ns())

    def producer_status(self) -> ProducerStatus:
        """Consumer counters, the producer's heartbeat and whether the fallback is active."""
        return ProducerStatus(
            events_processed=self.consumer.processed_total,
            invalid_messages=self.consumer.invalid_total,
            heartbeat_ns=self.consumer.producer_heartbeat_ns,
            fallback_active=self._fallback_active(),
        )

    @contextlib.asynccontextmanager
    async def running(self, tasks: asyncio.TaskGroup) -> AsyncIterator[None]:
        """Warm the cache, load the alert subscriptions and run the background work in `tasks`.

        On exit the work is cancelled, open alert streams end, and the job and mirror writes that
        are still queued are made.
        """
        await self.patterns.warm()
        await self.alert_router.load(await self.alert_store.all_subscriptions())
        work = {
            "pattern-consumer": self.consumer.run(),
            "pattern-maintenance": self.patterns.run_maintenance(),
            "alert-refresh": self._refresh_alerts(),
            "backtest-writer": self.jobs.run(),
            "backtest-dispatcher": self.jobs.run_dispatcher(),
        }
        if self.fallback is not None:
            heartbeat_ns = self._producer_heartbeat_ns
            work["fallback-switch"] = self.fallback.watch(heartbeat_ns, SWITCH_OBSERVE_S)
        if self._simulator is not None:
            work["pl-simulator"] = run_simulator(self._redis, self._simulator)
        running = [tasks.create_task(coroutine, name=name) for name, coroutine in work.items()]
        try:
            yield
        finally:
            await cancel_and_wait(running)
            self.alert_router.shutdown()
            with contextlib.suppress(DependencyUnavailableError):
                await self.jobs.flush()
            with contextlib.suppress(DependencyUnavailableError):
                await self.patterns.flush_mirror()

    async def _refresh_alerts(self) -> None:
        while True:
            await asyncio.sleep(self._settings.alert_refresh_s)
            try:
                await self.alert_router.load(await self.alert_store.all_subscriptions())
            except DependencyUnavailableError:
                _logger.warning("could not refresh alert subscriptions: PostgreSQL is unavailable")
