"""The gateway role and the all-in-one process: every gRPC service, and Envoy for browsers.

- `gateway`: follows the event stream into its own ring and hub, and the fallback patterns in it into its
  pattern cache. Gateways on one host share the port (SO_REUSEPORT).
- `all`: the ingest's components and a gateway's in one process; the pipeline publishes to the
  in-process hub, and the patterns the pattern cache takes join the event log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
import grpc
import redis.asyncio as aioredis
from grpc_health.v1._async import HealthServicer

from tickstock_server.api.auth import AuthInterceptor, create_auth_interceptor
from tickstock_server.api.mappers.events import encode_event
from tickstock_server.api.rpc_metrics import RpcMetrics
from tickstock_server.api.server import (
    EVENT_SERVICE,
    MARKET_DATA_SERVICE,
    PATTERN_SERVICE,
    create_server,
    follow_health,
    served_methods,
    set_serving,
)
from tickstock_server.api.tls import ServerTls
from tickstock_server.app.fallback_patterns import logged_fallback_patterns
from tickstock_server.app.gateway import GatewayInputs, build_servicers
from tickstock_server.app.ingest import EngineSnapshots, IngestSide, local_pending_bars, wall_clock_or
from tickstock_server.app.ingest_role import ingest_health
from tickstock_server.app.lifecycle import cancelled_on_exit, serve_metrics
from tickstock_server.app.pattern_side import PatternSide
from tickstock_server.app.simulator_choice import simulator_config
from tickstock_server.bus.event_follower import RedisEventFollower
from tickstock_server.bus.feed_beacon import FeedPulse
from tickstock_server.bus.ingest_queries import IngestQueriesConfig, RedisIngestQueries
from tickstock_server.config import Settings
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.hub import SubscriptionHub
from tickstock_server.delivery.session import StreamSources
from tickstock_server.edge.embedded_envoy import EmbeddedEnvoy, web_front_config
from tickstock_server.edge.envoy_config import local_upstream
from tickstock_server.market_calendars import xnys_calendar
from tickstock_server.ports.events import EventHistory, SnapshotSource
from tickstock_server.storage.api_keys import PgApiKeyStore
from tickstock_server.support.blocking_start import start_in_thread
from tickstock_server.support.metric_samples import Instrumented
from tickstock_server.support.token_bucket import UserTokenBuckets

__all__ = ["start_all_in_one", "start_gateway"]

_logger = logging.getLogger(__name__)

_FOLLOW_WAIT_S = 2.0
"""How long a gateway's stream waits for its log to reach a position another gateway reached."""


async def start_all_in_one(
    settings: Settings, stack: contextlib.AsyncExitStack, pool: asyncpg.Pool, redis_client: aioredis.Redis
) -> int:
    """Start the all-in-one process's components on `stack`; returns the gRPC port."""
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
    health = {**ingest_health(ingest), "producer": lambda: patterns.consumer.connected}
    serve_metrics(
        settings,
        stack,
        [*ingest.instruments(), hub, inputs.sources.gaps, *patterns.instruments(), *_instruments(rpc, auth)],
        health,
    )
    return port


async def start_gateway(
    settings: Settings, stack: contextlib.AsyncExitStack, pool: asyncpg.Pool, redis_client: aioredis.Redis
) -> int:
    """Start a gateway's components on `stack`; returns the gRPC port."""
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
    serve_metrics(settings, stack, components, health)
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


@contextlib.asynccontextmanager
async def serving(
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
async def envoy_running(envoy: EmbeddedEnvoy) -> AsyncIterator[None]:
    """Run Envoy until the context exits; a start cut short by cancellation still stops it."""
    async with contextlib.AsyncExitStack() as stack:
        await start_in_thread(stack, envoy.start, envoy.stop)
        yield
