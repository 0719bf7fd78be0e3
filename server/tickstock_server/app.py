"""Builds the components from settings, runs them in one TaskGroup, and stops them in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
import redis.asyncio as aioredis
from pydantic import SecretStr

from tickstock_server.api.auth import KeyCache
from tickstock_server.api.auth_service import AuthServiceServicer
from tickstock_server.api.event_service import EventServiceServicer, StreamLimits
from tickstock_server.api.mappers import encode_event
from tickstock_server.api.market_data_service import MarketDataServiceServicer
from tickstock_server.api.server import create_server, follow_health, set_serving
from tickstock_server.api.universe_service import UniverseServiceServicer
from tickstock_server.bus.event_stream import EventStoreConfig, RedisEventStore
from tickstock_server.config import FeedSettings, Settings
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.hub import SubscriptionHub
from tickstock_server.delivery.session import StreamSources
from tickstock_server.detection.bars import BarAggregator
from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.domain.bar import Bar
from tickstock_server.domain.market_calendar import MarketCalendar
from tickstock_server.edge.embedded_envoy import EmbeddedEnvoy, web_front_config
from tickstock_server.edge.envoy_config import local_upstream
from tickstock_server.embedded import EmbeddedPostgres, EmbeddedRedis
from tickstock_server.feeds.replay import ReplayTickSource
from tickstock_server.feeds.synthetic import SyntheticTickSource
from tickstock_server.market_calendars import xnys_calendar
from tickstock_server.metrics import ServiceCollector, start_metrics_server
from tickstock_server.pattern_runtime import FallbackBarSink, PatternRuntime
from tickstock_server.pipeline import FeedMetrics, FeedStatus, run_pipeline
from tickstock_server.ports import TickSource
from tickstock_server.storage.api_keys import PgApiKeyStore
from tickstock_server.storage.bar_writer import PgBarWriter
from tickstock_server.storage.bars import PgBarReader
from tickstock_server.storage.database import create_pool
from tickstock_server.storage.filter_presets import PgFilterPresetStore
from tickstock_server.storage.migrate import apply_migrations
from tickstock_server.storage.seed import load_seed_data
from tickstock_server.storage.universes import PgUniverseStore
from tickstock_server.storage.watchlists import PgWatchlistStore

_logger = logging.getLogger(__name__)

EVENT_SERVICE = "tickstock.v1.EventService"
MARKET_DATA_SERVICE = "tickstock.v1.MarketDataService"
UNIVERSE_SERVICE = "tickstock.v1.UniverseService"
PATTERN_SERVICE = "tickstock.v1.PatternService"
BACKTEST_SERVICE = "tickstock.v1.BacktestService"
AUTH_SERVICE = "tickstock.v1.AuthService"


@contextlib.asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A migrated connection pool to PostgreSQL (an embedded one under `data_dir` when no URL is set).

    An embedded PostgreSQL that another process (the server) already runs is shared, not restarted, so
    administrative commands work while the server is up.
    """
    async with contextlib.AsyncExitStack() as stack:
        url = await _url_or_embedded(
            settings.database_url, EmbeddedPostgres(settings.data_dir / "postgres"), stack
        )
        pool = await create_pool(url)
        stack.push_async_callback(pool.close)
        applied = await apply_migrations(pool)
        if applied:
            _logger.info("applied schema migrations %s", applied)
        if await load_seed_data(pool):
            _logger.info("loaded the seed symbols and universes")
        yield pool


@contextlib.asynccontextmanager
async def open_redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    """A connected Redis client (an embedded Redis under `data_dir` when no URL is set)."""
    async with contextlib.AsyncExitStack() as stack:
        url = await _url_or_embedded(settings.redis_url, EmbeddedRedis(settings.data_dir / "redis"), stack)
        client = aioredis.from_url(url)
        stack.push_async_callback(client.aclose)
        await client.ping()
        yield client


async def _url_or_embedded(
    url: SecretStr | None, embedded: EmbeddedPostgres | EmbeddedRedis, stack: contextlib.AsyncExitStack
) -> str:
    """The configured URL; else start `embedded` (stopped when `stack` closes) and return its URL."""
    if url is not None:
        return url.get_secret_value()
    await asyncio.to_thread(embedded.start)
    stack.push_async_callback(asyncio.to_thread, embedded.stop)
    return embedded.url


def web_front(settings: Settings, grpc_port: int) -> EmbeddedEnvoy | None:
    """The Envoy that serves browsers (grpc-web and the dashboard) in front of this server, if enabled."""
    if not settings.web.enabled:
        return None
    upstream = local_upstream(settings.grpc.host, grpc_port)
    return EmbeddedEnvoy(
        settings.data_dir / "envoy",
        web_front_config(settings.web, upstream),
        concurrency=settings.web.concurrency,
    )


def restarts_history(feed: FeedSettings) -> bool:
    """True when the feed's events start over on every start: a replay file, the synthetic session clock.

    Their log begins a new epoch at each start (resuming clients get EPOCH_CHANGED rather than the
    same events again under new seqs); a live feed, or synthetic ticks on the wall clock, continue it.
    """
    return feed.kind == "replay" or (feed.kind == "synthetic" and feed.session_clock)


def create_tick_source(feed: FeedSettings, calendar: MarketCalendar) -> TickSource:
    """The tick source `feed.kind` selects (settings validation guarantees its required fields).

    The synthetic market follows `calendar`: its session clock starts at the latest trading day's open.
    """
    if feed.kind == "massive":
        # Imported only when used: the massive client is a heavy import the other feeds do not need.
        from tickstock_server.feeds.massive import MassiveTickSource

        massive = feed.massive
        assert massive.api_key is not None
        subscriptions = tuple(
            channel.strip() for channel in massive.subscriptions.split(",") if channel.strip()
        )
        return MassiveTickSource(
            massive.api_key.get_secret_value(),
            host=massive.host,
            secure=massive.secure,
            subscriptions=subscriptions,
            record_path=massive.record_path,
            jitter_rng=random.Random(),
        )
    if feed.kind == "replay":
        assert feed.replay.path is not None
        return ReplayTickSource(feed.replay.path, speed=feed.replay.speed)
    return SyntheticTickSource(
        seed=feed.seed,
        symbols=feed.symbols,
        rate=feed.rate_per_s,
        realtime=True,
        session_start_ns=calendar.latest_open_ns(time.time_ns()) if feed.session_clock else None,
        calendar=calendar,
    )


async def serve(
    settings: Settings, stop: asyncio.Event, on_ready: Callable[[int], None] | None = None
) -> None:
    """Run the whole service until `stop` is set, then shut down gracefully.

    Shutdown order: health turns NOT_SERVING (load balancers stop routing), every event stream gets a
    rotation hint with its resume token, in-flight calls get the grace period, then the feed stops and
    the backends close.
    """
    async with (
        open_database(settings) as pool,
        open_redis(settings) as redis_client,
        contextlib.AsyncExitStack() as stack,
    ):
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
        universes = PgUniverseStore(pool)
        watchlists = PgWatchlistStore(pool)
        events = EventServiceServicer(
            sources=StreamSources(
                hub=hub, log=log, history=event_store, snapshots=engine, max_age_s=delivery.max_stream_age_s
            ),
            limits=StreamLimits(
                max_symbols=delivery.max_symbols_per_subscription, max_streams=delivery.max_streams_per_user
            ),
            universes=universes,
            watchlists=watchlists,
            presets=PgFilterPresetStore(pool, max_per_user=delivery.max_presets_per_user),
            feed_age_ns=lambda: feed_status.age_ns(time.time_ns()),
            shutdown_grace_s=settings.grpc.shutdown_grace_s,
        )
        patterns = PatternRuntime(settings, pool, redis_client)
        await patterns.start()
        keys = KeyCache(PgApiKeyStore(pool))
        servicers = {
            AUTH_SERVICE: AuthServiceServicer(keys=keys),
            EVENT_SERVICE: events,
            MARKET_DATA_SERVICE: MarketDataServiceServicer(
                bars=PgBarReader(pool, unstored_bars),
                market_clock_ns=lambda: engine.last_tick_ns or time.time_ns(),
            ),
            UNIVERSE_SERVICE: UniverseServiceServicer(universes=universes, watchlists=watchlists),
            PATTERN_SERVICE: patterns.pattern_service,
            BACKTEST_SERVICE: patterns.backtest_service,
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
            metrics, _, _ = start_metrics_server(settings.metrics.host, settings.metrics.port, collector)
            stack.callback(metrics.server_close)  # callbacks run last-in first-out: shut down, then close
            stack.callback(metrics.shutdown)
        async with asyncio.TaskGroup() as tasks:
            bar_writer = tasks.create_task(writer.run(), name="bar-writer")
            event_writer = tasks.create_task(event_store.run(), name="event-store")
            # GetBars depends on the writer's database; a failing or full writer shows in its health.
            writer_health = tasks.create_task(
                follow_health(health, MARKET_DATA_SERVICE, lambda: writer.healthy), name="bar-writer-health"
            )
            # Patterns depend on the producer's Redis: the service is NOT_SERVING while it is unreachable.
            pattern_health = tasks.create_task(
                follow_health(health, PATTERN_SERVICE, lambda: patterns.consumer.connected),
                name="pattern-health",
            )
            pattern_tasks = [tasks.create_task(work, name=name) for name, work in patterns.tasks().items()]
            bars = FallbackBarSink(writer, patterns)
            pipeline = tasks.create_task(
                run_pipeline(source, engine, log, hub, feed_status, bars=bars, persist=event_store.add),
                name="pipeline",
            )
            await server.start()
            envoy = web_front(settings, port)
            try:
                await set_serving(health, list(servicers), True)
                _logger.info("serving on port %d", port, extra={"port": port, "epoch": log.epoch})
                if envoy is not None:
                    await asyncio.to_thread(envoy.start)
                if on_ready is not None:
                    on_ready(port)
                await stop.wait()
                _logger.info("shutting down")
            finally:
                # Also when a task failed (the TaskGroup then cancels this body): the server must stop
                # inside the running loop, and streams still get their rotation hints.
                await health.enter_graceful_shutdown()
                writer_health.cancel()
                pattern_health.cancel()
                hub.close()
                await server.stop(settings.grpc.shutdown_grace_s)
                if envoy is not None:  # after the server: the streams' last trailers pass through it
                    await asyncio.to_thread(envoy.stop)
                pipeline.cancel()
                # Its own failure, if that is why we stop, is already the TaskGroup's to report.
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pipeline
                # The bars of the last minutes, then everything the writer still holds.
                with contextlib.suppress(RuntimeError):
                    await writer.put(engine.flush_bars())
                for task in pattern_tasks:
                    task.cancel()
                await asyncio.gather(*pattern_tasks, return_exceptions=True)
                await patterns.close()
                await writer.close()
                await bar_writer
                # Every event reached the stream: a restart continues this epoch with no gap.
                event_store.close(log.last_seq)
                await event_writer
        _logger.info("stopped")


def install_signal_handlers(stop: asyncio.Event) -> None:
    """Set `stop` on SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
