"""Runs one role of the service: builds its components, starts them in order, stops them in reverse.

- `all`: everything in one process; the pipeline publishes to the in-process hub, and the patterns the
  pattern cache takes join the event log.
- `ingest`: the feed, detection, bars and the event stream's writer; a producer consumer of its own puts
  the patterns into the event log, and so does the fallback detector while the producer is silent. It
  answers the gateways' questions (snapshots, unstored bars) and publishes the feed's pulse (with the
  fallback's state). No gRPC port.
- `gateway`: every gRPC service; it follows the event stream into its own ring and hub, and the
  fallback patterns in it into its pattern cache. Gateways on one host share the port (SO_REUSEPORT).

Every component enters one `AsyncExitStack`, so shutdown is the reverse of start by construction: the
gRPC server (health NOT_SERVING, rotation hints to every stream, the grace period), then Envoy, the feed
(its last bars go to the writer), the pattern side, the bar writer and the event stream. Background work
runs in one TaskGroup: a task that fails stops the service the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import asyncpg
import redis.asyncio as aioredis

from tickstock_server import native
from tickstock_server.api.auth import AuthInterceptor, create_auth_interceptor
from tickstock_server.api.mappers.events import encode_event
from tickstock_server.api.rpc_metrics import RpcMetrics
from tickstock_server.api.server import (
    EVENT_SERVICE,
    MARKET_DATA_SERVICE,
    PATTERN_SERVICE,
    create_server,
    served_methods,
)
from tickstock_server.api.tls import ServerTls
from tickstock_server.app.backends import open_database, open_redis
from tickstock_server.app.fallback_patterns import (
    SWITCH_OBSERVE_S,
    fallback_feed,
    logged_fallback_patterns,
)
from tickstock_server.app.gateway import GatewayInputs, build_servicers
from tickstock_server.app.ingest import EngineSnapshots, IngestSide, local_pending_bars, wall_clock_or
from tickstock_server.app.lifecycle import cancelled_on_exit, envoy_running, metrics_server, serving
from tickstock_server.app.pattern_events import ingest_pattern_consumer
from tickstock_server.app.pattern_side import PatternSide, simulator_config
from tickstock_server.bus.event_follower import RedisEventFollower
from tickstock_server.bus.feed_beacon import FeedPulse, publish_feed_pulse
from tickstock_server.bus.ingest_queries import IngestQueriesConfig, IngestQueryServer, RedisIngestQueries
from tickstock_server.config import Settings
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.hub import SubscriptionHub
from tickstock_server.delivery.session import StreamSources
from tickstock_server.edge.embedded_envoy import EmbeddedEnvoy, web_front_config
from tickstock_server.edge.envoy_config import local_upstream
from tickstock_server.market_calendars import xnys_calendar
from tickstock_server.metrics import HealthChecks, ServiceCollector
from tickstock_server.patterns.fallback_feed import FallbackBarSink
from tickstock_server.ports.events import EventHistory, SnapshotSource
from tickstock_server.producer_sim.simulator import run_simulator
from tickstock_server.storage.api_keys import PgApiKeyStore
from tickstock_server.support.gc_pauses import GcPauseRecorder
from tickstock_server.support.loop_tasks import LoopTasks
from tickstock_server.support.metric_samples import Instrumented
from tickstock_server.support.stall_report import report_slow_shutdown
from tickstock_server.support.token_bucket import UserTokenBuckets

_logger = logging.getLogger(__name__)

_STALL_REPORT_S = 10.0
"""Seconds past the shutdown grace period after which the tasks a shutdown still waits for are logged."""
_FOLLOW_WAIT_S = 2.0
"""How long a gateway's stream waits for its log to reach a position another gateway reached."""


async def serve(
    settings: Settings, stop: asyncio.Event, on_ready: Callable[[int], None] | None = None
) -> None:
    """Run this process's role until `stop` is set, then shut down gracefully (see the module docstring).

    `on_ready` gets the gRPC port once the process serves (0 for the ingest role, which has none).
    A shutdown that takes longer than the grace period and `_STALL_REPORT_S` logs what it waits for.
    """
    after_s = settings.grpc.shutdown_grace_s + _STALL_REPORT_S
    stall_report = asyncio.create_task(report_slow_shutdown(stop, after_s), name="shutdown-stall-report")
    try:
        await _serve_until_stopped(settings, stop, on_ready)
    finally:
        stall_report.cancel()
    _logger.info("stopped")


async def _serve_until_stopped(
    settings: Settings, stop: asyncio.Event, on_ready: Callable[[int], None] | None
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        # A stop during start-up (a gateway still waiting for the ingest's first epoch) cancels it; the
        # stack then stops whatever had started.
        starting = asyncio.ensure_future(_start(settings, stack))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not starting.done():
                starting.cancel()
                await asyncio.wait([starting])  # it leaves the stack consistent before it unwinds
        if starting.cancelled():
            _logger.info("stopped while starting")
            return
        port = starting.result()
        if on_ready is not None:
            on_ready(port)
        await stop.wait()
        _logger.info("shutting down")


async def _start(settings: Settings, stack: contextlib.AsyncExitStack) -> int:
    pool = await stack.enter_async_context(open_database(settings))
    redis_client = await stack.enter_async_context(open_redis(settings))
    if settings.role == "ingest":
        return await _ingest(settings, stack, pool, redis_client)
    if settings.role == "gateway":
        return await _gateway(settings, stack, pool, redis_client)
    return await _all_in_one(settings, stack, pool, redis_client)


async def _all_in_one(
    settings: Settings, stack: contextlib.AsyncExitStack, pool: asyncpg.Pool, redis_client: aioredis.Redis
) -> int:
    ingest = IngestSide(settings, pool, redis_client, await asyncio.to_thread(xnys_calendar))
    log = await ingest.open()
    hub = _hub(settings)
    patterns = PatternSide(settings, pool, redis_client, simulator=simulator_config(settings))
    inputs = GatewayInputs(
        sources=_sources(settings, hub, log, ingest.event_store, EngineSnapshots(ingest.engine), 0.0),
        pending_bars=local_pending_bars(ingest),
        feed_age_ns=lambda: ingest.feed_status.age_ns(time.time_ns()),
        market_clock_ns=wall_clock_or(lambda: ingest.engine.last_tick_ns),
    )
    auth = create_auth_interceptor(PgApiKeyStore(pool))
    # Every pattern the cache takes (producer or fallback, not the warm-up from the mirror) joins the log.
    stop_pattern_events = patterns.patterns.cache.add_listener(ingest.pattern_events(hub).append)
    tasks = await stack.enter_async_context(asyncio.TaskGroup())
    await stack.enter_async_context(patterns.running(tasks))
    bars = patterns.fallback_bars(ingest.bar_store)
    await stack.enter_async_context(ingest.running(tasks, hub=hub, bars=bars))
    stack.callback(stop_pattern_events)  # before the event stream records the log's end
    health_checks = {
        # GetBars depends on the writer's database; a failing or full writer shows in its health.
        MARKET_DATA_SERVICE.full_name: lambda: ingest.writer.healthy,
        # Patterns depend on the producer's Redis: the service is NOT_SERVING while it is unreachable.
        PATTERN_SERVICE.full_name: lambda: patterns.consumer.connected,
    }
    servicers = build_servicers(settings, pool, auth.keys, inputs, patterns)
    rpc = RpcMetrics(served_methods())
    port = await _serve_grpc(
        settings, stack, tasks, servicers, (rpc, auth), hub, health_checks, epoch=log.epoch
    )
    health = {**_ingest_health(ingest), "producer": lambda: patterns.consumer.connected}
    _metrics(
        settings,
        stack,
        [*ingest.instruments(), hub, inputs.sources.gaps, *patterns.instruments(), *_instruments(rpc, auth)],
        health,
    )
    return port


async def _ingest(
    settings: Settings, stack: contextlib.AsyncExitStack, pool: asyncpg.Pool, redis_client: aioredis.Redis
) -> int:
    ingest = IngestSide(settings, pool, redis_client, await asyncio.to_thread(xnys_calendar))
    log = await ingest.open()
    prefix = settings.delivery.stream_key_prefix
    queries = IngestQueryServer(
        redis_client,
        snapshot=ingest.take_snapshot,
        pending_bars=ingest.unstored_bars,
        config=IngestQueriesConfig(key_prefix=prefix),
        shard=settings.shard,
    )
    fallback = fallback_feed(settings.patterns)
    fallback_active = (lambda: False) if fallback is None else (lambda: fallback.switch.active)
    tasks = await stack.enter_async_context(asyncio.TaskGroup())
    background = {
        "ingest-queries": queries.run_forever(),
        "feed-pulse": publish_feed_pulse(
            redis_client, prefix, ingest.feed_pulse, fallback_active=fallback_active
        ),
    }
    simulator = simulator_config(settings)
    if simulator is not None and settings.shard.index == 0:  # the producer's stand-in: once, here
        background["pl-simulator"] = run_simulator(redis_client, simulator)
    for name, work in background.items():
        await stack.enter_async_context(cancelled_on_exit(tasks, name, work))
    # The producer's and the fallback's patterns join the log here (gateways follow it).
    pattern_events = ingest.pattern_events(hub=None)
    bars = None
    if fallback is not None:
        bars = FallbackBarSink(ingest.bar_store, fallback, pattern_events.append_all)
    await stack.enter_async_context(ingest.running(tasks, hub=None, bars=bars))
    patterns = ingest_pattern_consumer(settings, redis_client, pattern_events)  # stopped before the stream
    await stack.enter_async_context(cancelled_on_exit(tasks, "pattern-events", patterns.run()))
    instruments: list[Instrumented] = [*ingest.instruments(), queries, patterns]
    if fallback is not None:
        switch_work = fallback.watch(lambda: patterns.producer_heartbeat_ns, SWITCH_OBSERVE_S)
        await stack.enter_async_context(cancelled_on_exit(tasks, "fallback-switch", switch_work))
        instruments.append(fallback)
    _metrics(settings, stack, instruments, _ingest_health(ingest))
    _logger.info("ingesting; detection core %s", native.mode(), extra={"epoch": log.epoch})
    return 0


async def _gateway(
    settings: Settings, stack: contextlib.AsyncExitStack, pool: asyncpg.Pool, redis_client: aioredis.Redis
) -> int:
    prefix = settings.delivery.stream_key_prefix
    follower = RedisEventFollower(redis_client, key_prefix=prefix)
    epoch, last_seq = await follower.open()
    log = EventLog(encode_event, capacity=settings.delivery.log_capacity, epoch=epoch, last_seq=last_seq)
    hub = _hub(settings)
    queries = RedisIngestQueries(redis_client, IngestQueriesConfig(key_prefix=prefix))
    pulse = FeedPulse(redis_client, prefix)
    # The fallback detector runs in the ingest: its patterns come with the followed stream, its state
    # with the feed pulse.
    patterns = PatternSide(
        settings, pool, redis_client, simulator=None, fallback_active=lambda: pulse.fallback_active
    )
    inputs = GatewayInputs(
        sources=_sources(settings, hub, log, follower, queries, _FOLLOW_WAIT_S),
        pending_bars=queries.pending_bars,
        feed_age_ns=lambda: pulse.age_ns(time.time_ns()),
        market_clock_ns=wall_clock_or(lambda: pulse.last_tick_ns),
    )
    auth = create_auth_interceptor(PgApiKeyStore(pool))
    tasks = await stack.enter_async_context(asyncio.TaskGroup())
    following = follower.run(log, hub, logged_fallback_patterns(patterns.patterns))
    await stack.enter_async_context(cancelled_on_exit(tasks, "event-follower", following))
    await stack.enter_async_context(cancelled_on_exit(tasks, "feed-pulse", pulse.run()))
    await stack.enter_async_context(patterns.running(tasks))
    health_checks = {
        EVENT_SERVICE.full_name: lambda: follower.healthy,
        PATTERN_SERVICE.full_name: lambda: patterns.consumer.connected,
    }
    servicers = build_servicers(settings, pool, auth.keys, inputs, patterns)
    rpc = RpcMetrics(served_methods())
    port = await _serve_grpc(
        settings, stack, tasks, servicers, (rpc, auth), hub, health_checks, epoch=log.epoch, reuse_port=True
    )
    health = {"event_stream": lambda: follower.healthy, "producer": lambda: patterns.consumer.connected}
    components: list[Instrumented] = [
        log,
        hub,
        inputs.sources.gaps,
        follower,
        *patterns.instruments(),
        *_instruments(rpc, auth),
    ]
    _metrics(settings, stack, components, health)
    return port


async def _serve_grpc(
    settings: Settings,
    stack: contextlib.AsyncExitStack,
    tasks: asyncio.TaskGroup,
    servicers: dict[str, object],
    interceptors: tuple[RpcMetrics, AuthInterceptor],
    hub: SubscriptionHub,
    health_checks: dict[str, Callable[[], bool]],
    *,
    epoch: str,
    reuse_port: bool = False,
) -> int:
    rpc, auth = interceptors
    server, port, health = create_server(
        servicers=servicers,
        auth=auth,
        host=settings.grpc.host,
        port=settings.grpc.port,
        max_connection_age_s=settings.grpc.max_connection_age_s,
        max_stream_age_s=settings.delivery.max_stream_age_s,
        reuse_port=reuse_port,
        log_payloads=settings.log.payloads,
        tls=_tls(settings),
        plaintext_port=settings.grpc.plaintext_port,
        rpc_metrics=rpc,
    )
    envoy = _web_front(settings, port)
    if envoy is not None:  # before the server, so it stops after it: the last trailers pass through it
        await stack.enter_async_context(envoy_running(envoy))
    # Started before the server, so it stops after it: revoked keys end their streams until the end.
    await stack.enter_async_context(cancelled_on_exit(tasks, "revocation-watch", auth.revocations.run()))
    grace_s = settings.grpc.shutdown_grace_s
    await stack.enter_async_context(
        serving(server, health, list(servicers), health_checks, tasks, hub, grace_s)
    )
    _logger.info("serving on port %d", port, extra={"port": port, "epoch": epoch, "role": settings.role})
    return port


def _tls(settings: Settings) -> ServerTls | None:
    grpc_settings = settings.grpc
    if grpc_settings.tls_cert_file is None or grpc_settings.tls_key_file is None:
        return None
    return ServerTls(
        grpc_settings.tls_cert_file, grpc_settings.tls_key_file, grpc_settings.tls_client_ca_file
    )


def _hub(settings: Settings) -> SubscriptionHub:
    delivery = settings.delivery
    return SubscriptionHub(
        max_streams_per_user=delivery.max_streams_per_user, queue_capacity=delivery.queue_capacity
    )


def _sources(
    settings: Settings,
    hub: SubscriptionHub,
    log: EventLog,
    history: EventHistory,
    snapshots: SnapshotSource,
    follow_wait_s: float,
) -> StreamSources:
    delivery = settings.delivery
    return StreamSources(
        hub=hub,
        log=log,
        history=history,
        snapshots=snapshots,
        max_age_s=delivery.max_stream_age_s,
        follow_wait_s=follow_wait_s,
        max_replay_events=delivery.max_replay_events,
        replay_budget=UserTokenBuckets(
            rate_per_s=delivery.replay_events_per_s, burst=delivery.replay_burst_events
        ),
        stall_timeout_s=delivery.stall_timeout_s,
    )


def _instruments(rpc: RpcMetrics, auth: AuthInterceptor) -> list[Instrumented]:
    return [rpc, auth.failures, auth.revocations]


def _ingest_health(ingest: IngestSide) -> HealthChecks:
    """The ingest's dependencies: PostgreSQL through the bar writer, Redis through the event stream."""
    return {"bar_writer": lambda: ingest.writer.healthy, "event_stream": lambda: ingest.event_store.healthy}


def _metrics(
    settings: Settings,
    stack: contextlib.AsyncExitStack,
    components: list[Instrumented],
    health: HealthChecks,
) -> None:
    # Last to start, so a supervisor can take an answering /metrics as "this process serves".
    if settings.metrics.enabled:
        gc_pauses = stack.enter_context(GcPauseRecorder())  # unhooked after the metrics server stops
        tasks = LoopTasks(asyncio.get_running_loop())
        collector = ServiceCollector([*components, gc_pauses, tasks], constant_labels={"role": settings.role})
        stack.enter_context(metrics_server(settings.metrics.host, settings.metrics.port, collector, health))


def _web_front(settings: Settings, grpc_port: int) -> EmbeddedEnvoy | None:
    """The Envoy that serves browsers (grpc-web and the dashboard) in front of this server, if enabled."""
    if not settings.web.enabled:
        return None
    upstream = local_upstream(settings.grpc.host, grpc_port)
    return EmbeddedEnvoy(
        settings.data_dir / "envoy",
        web_front_config(settings.web, upstream, upstream_has_tls=settings.grpc.tls_cert_file is not None),
        concurrency=settings.web.concurrency,
    )
