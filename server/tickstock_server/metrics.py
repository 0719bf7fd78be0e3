"""Prometheus metrics, read from the components' own counters at scrape time (nothing on the hot path)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from tickstock_server.bus.event_stream import RedisEventStore
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.hub import SubscriptionHub
from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.pipeline import FeedStatus
from tickstock_server.ports.feeds import TickSource
from tickstock_server.storage.bar_writer import PgBarWriter

__all__ = ["INVALID_TICK", "ServiceCollector", "start_metrics_server"]

_logger = logging.getLogger(__name__)

INVALID_TICK = "invalid_tick"
"""The `reason` of ticks the detection engine refused, next to the feed parser's reasons."""


class ServiceCollector(Collector):
    """Collects the service's counters and gauges when Prometheus scrapes.

    The detection engine, event log, hub and bar writer already count what matters; reading those
    counters at scrape time keeps metric updates off the 100k ticks/s path. Runs in the HTTP server's
    thread: it only reads integers and floats the event loop writes, which the GIL keeps consistent.
    """

    def __init__(
        self,
        *,
        engine: DetectionEngine,
        log: EventLog,
        hub: SubscriptionHub,
        writer: PgBarWriter,
        feed: FeedStatus,
        source: TickSource,
        store: RedisEventStore | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        """Read these components."""
        self._engine = engine
        self._log = log
        self._hub = hub
        self._writer = writer
        self._feed = feed
        self._source = source
        self._store = store
        self._clock_ns = clock_ns

    def collect(self) -> Iterator[Metric]:
        """Yield every metric with its current value."""
        engine = self._engine
        yield CounterMetricFamily(
            "tickstock_ticks_processed",
            "Valid ticks run through the detectors.",
            value=engine.ticks_processed,
        )
        rejected = CounterMetricFamily(
            "tickstock_feed_rejected",
            "Feed frames, events and ticks skipped as malformed, by reason (counted and logged, never "
            "raised); invalid_tick is a parsed tick the detectors refused (bad price, volume or time).",
            labels=["reason"],
        )
        for reason, count in sorted(self._source.rejected.items()):
            rejected.add_metric([reason], count)
        rejected.add_metric([INVALID_TICK], engine.rejected_ticks)
        yield rejected
        yield CounterMetricFamily(
            "tickstock_events_detected", "Events the detectors emitted.", value=engine.events_emitted
        )
        yield GaugeMetricFamily(
            "tickstock_symbols", "Symbols with detector state.", value=engine.symbol_count
        )
        yield GaugeMetricFamily(
            "tickstock_feed_age_seconds",
            "Wall-clock time since the feed last delivered ticks (0 before the first).",
            value=self._feed.age_ns(self._clock_ns()) / 1e9,
        )
        yield CounterMetricFamily(
            "tickstock_events_logged",
            "Events sequenced into the event log (its last seq).",
            value=self._log.last_seq,
        )
        yield GaugeMetricFamily("tickstock_subscribers", "Open event streams.", value=len(self._hub))
        yield CounterMetricFamily(
            "tickstock_subscribers_overloaded",
            "Event streams ended because the client read too slowly (DISCONNECT policy).",
            value=self._hub.overloaded_total,
        )
        if self._store is not None:
            store = self._store
            yield CounterMetricFamily(
                "tickstock_event_store_appended",
                "Log entries written to the Redis Stream.",
                value=store.appended,
            )
            yield CounterMetricFamily(
                "tickstock_event_store_dropped",
                "Log entries never persisted because the write buffer overflowed during a Redis outage.",
                value=store.dropped,
            )
            yield CounterMetricFamily(
                "tickstock_event_store_failures", "Failed Redis Stream writes.", value=store.failures
            )
            yield GaugeMetricFamily(
                "tickstock_event_store_pending", "Log entries waiting to be written.", value=store.pending
            )
        stats = self._writer.stats()
        yield CounterMetricFamily(
            "tickstock_bars_written", "Bar rows written to PostgreSQL.", value=stats.rows_written
        )
        yield CounterMetricFamily("tickstock_bar_flushes", "Successful bar flushes.", value=stats.flushes)
        yield CounterMetricFamily(
            "tickstock_bar_flush_failures", "Failed bar flushes.", value=stats.failed_flushes
        )
        yield GaugeMetricFamily(
            "tickstock_bars_pending", "Bars buffered, not yet durable.", value=stats.pending
        )
        yield CounterMetricFamily(
            "tickstock_bar_backpressure_seconds",
            "Time ingest waited for room in the full bar buffer.",
            value=stats.backpressure_s,
        )
        yield GaugeMetricFamily(
            "tickstock_bar_writer_healthy",
            "1 while bar flushes succeed and the buffer has room.",
            value=stats.healthy,
        )
        if stats.last_flush_lag_s is not None:
            yield GaugeMetricFamily(
                "tickstock_bar_flush_lag_seconds",
                "Time from put to commit of the oldest bar of the last flush.",
                value=stats.last_flush_lag_s,
            )


def start_metrics_server(
    host: str, port: int, collector: ServiceCollector
) -> tuple[WSGIServer, threading.Thread, int]:
    """Serve `/metrics` (the collector plus process CPU and memory) on a daemon thread.

    Returns:
        The HTTP server (call `shutdown()` to stop it), its thread and the bound port (useful with 0).
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    server, thread = start_http_server(port, addr=host, registry=registry)
    bound = int(server.server_port)
    _logger.info("metrics on http://%s:%d/metrics", host, bound)
    return server, thread, bound
