"""Runs the whole service: builds the components, starts them in order, stops them in reverse.

Every component enters one `AsyncExitStack`, so shutdown is the reverse of start by construction:
the gRPC server (health NOT_SERVING, rotation hints to every stream, the grace period), then Envoy,
the feed (its last bars go to the writer), the pattern side, the bar writer and the event stream.
Background work runs in one TaskGroup: a task that fails stops the service the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any

import grpc
from grpc_health.v1._async import HealthServicer

from tickstock_server.api.auth import KeyCache
from tickstock_server.api.auth_service import AuthServiceServicer
from tickstock_server.api.event_service import EventServiceServicer, StreamLimits
from tickstock_server.api.mappers.events import encode_event
from tickstock_server.api.market_data_service import MarketDataServiceServicer
from tickstock_server.api.server import (
    AUTH_SERVICE,
    BACKTEST_SERVICE,
    EVENT_SERVICE,
    MARKET_DATA_SERVICE,
    PATTERN_SERVICE,
    UNIVERSE_SERVICE,
    create_server,
    follow_health,
    set_serving,
)
from tickstock_server.api.universe_service import UniverseServiceServicer
from tickstock_server.app.backends import open_database, open_redis
from tickstock_server.app.feeds import create_tick_source, restarts_history
from tickstock_server.app.pattern_side import PatternSide
from tickstock_server.bus.event_stream import EventStoreConfig, RedisEventStore
from tickstock_server.config import Settings
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.hub import SubscriptionHub
from tickstock_server.delivery.session import StreamSources
from tickstock_server.detection.bars import BarAggregator
from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.domain.bar import Bar
from tickstock_server.edge.embedded_envoy import EmbeddedEnvoy, web_front_config
from tickstock_server.edge.envoy_config import local_upstream
from tickstock_server.market_calendars import xnys_calendar
from tickstock_server.metrics import ServiceCollector, start_metrics_server
from tickstock_server.patterns.service import FallbackBarSink
from tickstock_server.pipeline import FeedMetrics, FeedStatus, run_pipeline
from tickstock_server.storage.api_keys import PgApiKeyStore
from tickstock_server.storage.bar_writer import PgBarWriter
from tickstock_server.storage.bars import PgBarReader
from tickstock_server.storage.filter_presets import PgFilterPresetStore
from tickstock_server.storage.universes import PgUniverseStore
from tickstock_server.storage.watchlists import PgWatchlistStore
from tickstock_server.universes.service import UniverseCatalog, Watchlists

_logger = logging.getLogger(__name__)


async def serve(
    settings: Settings, stop: asyncio.Event, on_ready: Callable[[int], None] | None = None
) -> None:
    """Run the whole service until `stop` is set, then shut down gracefully (see the module docstring)."""
    async with contextlib.AsyncExitStack() as stack:
        pool = await stack.enter_async_context(open_database(settings))
        redis_client = await stack.enter_async_context(open_redis(settings))
        calendar = await asyncio.to_thread(xnys_calendar)
        aggregator = BarAggregator()
        engine = DetectionEngine(bars=aggregator, calendar=calendar)
        writer = PgBarWriter(pool)

        def unstored_bars(symbol: str) -> list[Bar]:
            # The writer's buffer, then the aggregator's newest (possibly newer) revision of the minute.
            bars = [bar for bar in writer.pending_bars() if bar.symbol == symbol]
            open_bar = aggregator.open_bar(symbol)
            return bars if open_bar is None else [*bars, open_bar]

        feed_status = FeedStatus()
        delivery = settings.delivery
        event_store = RedisEventStore(
            redis_client,
            EventStoreConfig(
                key_prefix=delivery.stream_key_prefix,
                max_entries=delivery.stream_max_entries,
                max_age_s=delivery.stream_max_age_s,
            ),
        )
        position = await event_store.open(new_epoch=restarts_history(settings.feed))
        log = EventLog(
            encode_event, capacity=delivery.log_capacity, epoch=position.epoch, last_seq=position.last_seq
        )
        hub = SubscriptionHub(
            max_streams_per_user=delivery.max_streams_per_user, queue_capacity=delivery.queue_capacity
        )
        source = create_tick_source(settings.feed, calendar)
        universe_store = PgUniverseStore(pool)
        universes = UniverseCatalog(universe_store)
        watchlists = PgWatchlistStore(pool)
        patterns = PatternSide(settings, pool, redis_client)
        keys = KeyCache(PgApiKeyStore(pool))
        servicers = {
            AUTH_SERVICE.full_name: AuthServiceServicer(keys=keys),
            EVENT_SERVICE.full_name: EventServiceServicer(
                sources=StreamSources(
                    hub=hub,
                    log=log,
                    history=event_store,
                    snapshots=engine,
                    max_age_s=delivery.max_stream_age_s,
                ),
                limits=StreamLimits(
                    max_symbols=delivery.max_symbols_per_subscription,
                    max_streams=delivery.max_streams_per_user,
                ),
                universes=universes,
                watchlists=watchlists,
                presets=PgFilterPresetStore(pool, max_per_user=delivery.max_presets_per_user),
                feed_age_ns=lambda: feed_status.age_ns(time.time_ns()),
                shutdown_grace_s=settings.grpc.shutdown_grace_s,
            ),
            MARKET_DATA_SERVICE.full_name: MarketDataServiceServicer(
                bars=PgBarReader(pool, unstored_bars),
                market_clock_ns=lambda: engine.last_tick_ns or time.time_ns(),
            ),
            UNIVERSE_SERVICE.full_name: UniverseServiceServicer(
                universes=universes, watchlists=Watchlists(watchlists, symbols=universe_store)
            ),
            PATTERN_SERVICE.full_name: patterns.pattern_service,
            BACKTEST_SERVICE.full_name: patterns.backtest_service,
        }
        server, port, health = create_server(
            servicers=servicers,
            keys=keys,
            host=settings.grpc.host,
            port=settings.grpc.port,
            max_connection_age_s=settings.grpc.max_connection_age_s,
            max_stream_age_s=delivery.max_stream_age_s,
        )
        if settings.metrics.enabled:
            collector = ServiceCollector(
                [
                    engine,
                    FeedMetrics(feed_status, source),
                    log,
                    hub,
                    event_store,
                    writer,
                    *patterns.instruments(),
                ]
            )
            stack.enter_context(_metrics_server(settings, collector))
        tasks = await stack.enter_async_context(asyncio.TaskGroup())
        # Every event reached the stream when it stops: a restart continues this epoch with no gap.
        await stack.enter_async_context(
            _running(
                tasks, "event-store", event_store.run(), stopping=lambda: event_store.close(log.last_seq)
            )
        )
        await stack.enter_async_context(_running(tasks, "bar-writer", writer.run(), stopping=writer.close))
        await stack.enter_async_context(patterns.running(tasks))
        await stack.enter_async_context(
            _feeding(
                tasks,
                run_pipeline(
                    source,
                    engine,
                    log,
                    hub,
                    feed_status,
                    bars=FallbackBarSink(writer, patterns.patterns),
                    persist=event_store.add,
                ),
                final_bars=lambda: writer.put(engine.flush_bars()),
            )
        )
        envoy = _web_front(settings, port)
        if envoy is not None:  # before the server, so it stops after it: the last trailers pass through it
            await stack.enter_async_context(_envoy_running(envoy))
        health_checks = {
            # GetBars depends on the writer's database; a failing or full writer shows in its health.
            MARKET_DATA_SERVICE.full_name: lambda: writer.healthy,
            # Patterns depend on the producer's Redis: the service is NOT_SERVING while it is unreachable.
            PATTERN_SERVICE.full_name: lambda: patterns.consumer.connected,
        }
        await stack.enter_async_context(
            _serving(
                server, health, list(servicers), health_checks, tasks, hub, settings.grpc.shutdown_grace_s
            )
        )
        _logger.info("serving on port %d", port, extra={"port": port, "epoch": log.epoch})
        if on_ready is not None:
            on_ready(port)
        await stop.wait()
        _logger.info("shutting down")
    _logger.info("stopped")


@contextlib.asynccontextmanager
async def _running(
    tasks: asyncio.TaskGroup,
    name: str,
    work: Coroutine[Any, Any, None],
    *,
    stopping: Callable[[], Awaitable[None] | None],
) -> AsyncIterator[None]:
    """Run `work` as task `name`; on exit call `stopping`, which makes the work finish, and wait for it."""
    task = tasks.create_task(work, name=name)
    try:
        yield
    finally:
        finishing = stopping()
        if finishing is not None:
            await finishing
        await asyncio.wait([task])  # its own failure, if any, is the TaskGroup's to report


@contextlib.asynccontextmanager
async def _feeding(
    tasks: asyncio.TaskGroup,
    pipeline: Coroutine[Any, Any, None],
    *,
    final_bars: Callable[[], Awaitable[None]],
) -> AsyncIterator[None]:
    """Run the feed pipeline; on exit stop it and hand the bars of the last minutes to the writer."""
    task = tasks.create_task(pipeline, name="pipeline")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait([task])
        with contextlib.suppress(RuntimeError):  # a writer that failed is closed already
            await final_bars()


@contextlib.asynccontextmanager
async def _serving(
    server: grpc.aio.Server,
    health: HealthServicer,
    names: list[str],
    health_checks: dict[str, Callable[[], bool]],
    tasks: asyncio.TaskGroup,
    hub: SubscriptionHub,
    grace_s: float,
) -> AsyncIterator[None]:
    """Start the gRPC server and report its services SERVING; on exit stop it gracefully.

    Stopping: health turns NOT_SERVING (load balancers stop routing), every event stream gets a
    rotation hint with its resume token, and in-flight calls get `grace_s` seconds.
    """
    watchers = [
        tasks.create_task(follow_health(health, name, check), name=f"health {name}")
        for name, check in health_checks.items()
    ]
    await server.start()
    try:
        await set_serving(health, names, True)
        yield
    finally:
        await health.enter_graceful_shutdown()
        for watcher in watchers:
            watcher.cancel()
        hub.close()
        await server.stop(grace_s)


@contextlib.asynccontextmanager
async def _envoy_running(envoy: EmbeddedEnvoy) -> AsyncIterator[None]:
    await asyncio.to_thread(envoy.start)
    try:
        yield
    finally:
        await asyncio.to_thread(envoy.stop)


@contextlib.contextmanager
def _metrics_server(settings: Settings, collector: ServiceCollector) -> Iterator[None]:
    server, _, _ = start_metrics_server(settings.metrics.host, settings.metrics.port, collector)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def _web_front(settings: Settings, grpc_port: int) -> EmbeddedEnvoy | None:
    """The Envoy that serves browsers (grpc-web and the dashboard) in front of this server, if enabled."""
    if not settings.web.enabled:
        return None
    upstream = local_upstream(settings.grpc.host, grpc_port)
    return EmbeddedEnvoy(
        settings.data_dir / "envoy",
        web_front_config(settings.web, upstream),
        concurrency=settings.web.concurrency,
    )


def install_signal_handlers(stop: asyncio.Event) -> None:
    """Set `stop` on SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
