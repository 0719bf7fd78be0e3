"""The ingest pipeline: ticks from a feed through the detection engine into the event log and the hub."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.hub import SubscriptionHub
from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.ports.bars import BarSink
from tickstock_server.ports.feeds import TickSource

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


async def run_pipeline(
    source: TickSource,
    engine: DetectionEngine,
    log: EventLog,
    hub: SubscriptionHub,
    status: FeedStatus | None = None,
    bars: BarSink | None = None,
    persist: Callable[[list[LogEntry]], None] | None = None,
    clock_ns: Callable[[], int] = time.time_ns,
) -> None:
    """Process every tick of `source` until it ends or the task is cancelled.

    Detection and publishing are synchronous, so each batch of ticks is handled without yielding to the
    event loop: subscribers never see a partial batch, and event order equals log order. New log entries
    also go to `persist` (the event store's buffer, written off the tick path). After each batch the
    completed bars go to `bars`, whose backpressure (a full write buffer) slows the feed. `status`
    records the wall-clock arrival (`clock_ns`) of each non-empty batch.
    """
    _logger.info("pipeline started")
    process = engine.process
    async for ticks in source.ticks():
        for tick in ticks:
            events = process(tick)
            if events:
                entries = log.append(events, ingest_ts_ns=tick.received_ns, detect_ts_ns=time.time_ns())
                hub.publish(entries)
                if persist is not None:
                    persist(entries)
        if status is not None and ticks:
            status.last_arrival_ns = clock_ns()
        if bars is not None:
            completed = engine.take_bars()
            if completed:
                await bars.put(completed)
    _logger.info("pipeline ended: the feed closed")
