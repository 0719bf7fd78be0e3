"""The ingest pipeline: ticks from a feed through the detection engine into the event log and the hub."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.hub import SubscriptionHub
from tickstock_server.detection.engine import FEED_REJECTED, FEED_REJECTED_HELP, DetectionEngine
from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.ports.bars import BarSink
from tickstock_server.ports.feeds import TickSource
from tickstock_server.support.histograms import Histogram
from tickstock_server.support.metric_samples import MetricSample, counter, gauge
from tickstock_server.support.time_units import NS_PER_S

_logger = logging.getLogger(__name__)


class FeedStatus:
    """What the pipeline last saw of its feed, for heartbeats and health."""

    __slots__ = ("last_arrival_ns",)

    def __init__(self) -> None:
        self.last_arrival_ns = 0
        """Wall clock when the pipeline last took a non-empty batch from the feed, UTC epoch ns; 0 before.

        The arrival, not a tick's `received_ns`: a full-speed replay stamps ticks with their event
        times, which may be months old, while the feed itself is perfectly fresh.
        """

    def age_ns(self, now_ns: int) -> int:
        """Wall-clock time since the newest batch arrived; 0 before the first."""
        return max(now_ns - self.last_arrival_ns, 0) if self.last_arrival_ns else 0


class FeedMetrics:
    """The feed's metrics: how long ago it last delivered ticks, and what its source skipped as malformed.

    The detection engine adds the ticks it refused to the same `tickstock_feed_rejected` metric.
    """

    def __init__(
        self, status: FeedStatus, source: TickSource, *, clock_ns: Callable[[], int] = time.time_ns
    ) -> None:
        """Read the pipeline's `status` of `source`, at wall-clock time `clock_ns` (UTC epoch ns)."""
        self._status = status
        self._source = source
        self._clock_ns = clock_ns

    def metric_samples(self) -> list[MetricSample]:
        """Rejections by reason, then the feed age."""
        samples = [
            counter(FEED_REJECTED, FEED_REJECTED_HELP, count, reason=reason)
            for reason, count in sorted(self._source.rejected.items())
        ]
        samples.append(
            gauge(
                "tickstock_feed_age_seconds",
                "Wall-clock time since the feed last delivered ticks (0 before the first).",
                self._status.age_ns(self._clock_ns()) / NS_PER_S,
            )
        )
        return samples


DETECTION_BUCKETS_S = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
"""Upper bounds of the detection latency buckets, in seconds (+Inf follows): a batch of a hundred ticks
takes about half a millisecond."""


class DetectionLatency:
    """How long each tick batch took from its arrival to its events' publication; `Instrumented`.

    One observation per batch, not per tick: the detectors' 100k ticks/s budget has no room for one.
    """

    def __init__(self) -> None:
        self.batches = Histogram(DETECTION_BUCKETS_S)
        """The batches' latencies, in seconds."""

    def metric_samples(self) -> list[MetricSample]:
        """The histogram of batch latencies."""
        return [
            self.batches.sample(
                "tickstock_detection_latency_seconds",
                "Time from a tick batch's arrival from the feed until its events were sequenced, "
                "published and queued for the event stream, per batch.",
            )
        ]


async def run_pipeline(
    source: TickSource,
    engine: DetectionEngine,
    log: EventLog,
    hub: SubscriptionHub | None,
    status: FeedStatus | None = None,
    bars: BarSink | None = None,
    persist: Callable[[list[LogEntry]], None] | None = None,
    clock_ns: Callable[[], int] = time.time_ns,
    latency: DetectionLatency | None = None,
) -> None:
    """Process every tick of `source` until it ends or the task is cancelled.

    `hub` is the in-process hub (None in the ingest process, whose gateways follow the event stream).

    Detection and publishing are synchronous, so each batch of ticks is handled without yielding to the
    event loop: subscribers never see a partial batch, and event order equals log order. New log entries
    also go to `persist` (the event store's buffer, written off the tick path). After each batch the
    completed bars go to `bars`, whose backpressure (a full write buffer) slows the feed. `status`
    records the wall-clock arrival (`clock_ns`) of each non-empty batch, and `latency` the time each
    non-empty batch took from its arrival until its events were out (not the wait for the bar writer).
    """
    _logger.info("pipeline started")
    process = engine.process
    observe = None if latency is None else latency.batches.observe
    async for ticks in source.ticks():
        arrived_s = time.perf_counter()
        for tick in ticks:
            events = process(tick)
            if events:
                entries = log.append(events, ingest_ts_ns=tick.received_ns, detect_ts_ns=time.time_ns())
                if hub is not None:
                    hub.publish(entries)
                if persist is not None:
                    persist(entries)
        if observe is not None and ticks:
            observe(time.perf_counter() - arrived_s)
        if status is not None and ticks:
            status.last_arrival_ns = clock_ns()
        if bars is not None:
            completed = engine.take_bars()
            if completed:
                await bars.put(completed)
    _logger.info("pipeline ended: the feed closed")
