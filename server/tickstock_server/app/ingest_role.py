"""The ingest role: the feed, detection, bars and the event stream's writer, and no gRPC port.

A producer consumer of its own puts the patterns into the event log, and so does the fallback detector
while the producer is silent. It answers the gateways' questions (snapshots, unstored bars) and publishes
the feed's pulse (with the fallback's state). This module imports nothing of gRPC.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
import redis.asyncio as aioredis

from tickstock_server import native
from tickstock_server.app.fallback_patterns import SWITCH_OBSERVE_S, fallback_feed
from tickstock_server.app.ingest import IngestSide
from tickstock_server.app.lifecycle import cancelled_on_exit, serve_metrics
from tickstock_server.app.pattern_events import ingest_pattern_consumer
from tickstock_server.app.simulator_choice import simulator_config
from tickstock_server.bus.feed_beacon import publish_feed_pulse
from tickstock_server.bus.ingest_queries import IngestQueriesConfig, IngestQueryServer
from tickstock_server.config import Settings
from tickstock_server.market_calendars import xnys_calendar
from tickstock_server.metrics import HealthChecks
from tickstock_server.patterns.fallback_feed import FallbackBarSink
from tickstock_server.producer_sim.simulator import run_simulator
from tickstock_server.support.metric_samples import Instrumented

__all__ = ["ingest_health", "start_ingest"]

_logger = logging.getLogger(__name__)


async def start_ingest(
    settings: Settings, stack: contextlib.AsyncExitStack, pool: asyncpg.Pool, redis_client: aioredis.Redis
) -> int:
    """Start the ingest role's components on `stack`; returns 0 (it has no gRPC port)."""
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
    serve_metrics(settings, stack, instruments, ingest_health(ingest))
    _logger.info("ingesting; detection core %s", native.mode(), extra={"epoch": log.epoch})
    return 0


def ingest_health(ingest: IngestSide) -> HealthChecks:
    """The ingest's dependencies: PostgreSQL through the bar writer, Redis through the event stream."""
    return {"bar_writer": lambda: ingest.writer.healthy, "event_stream": lambda: ingest.event_store.healthy}
