"""The ingest pipeline: ticks from a feed through the detection engine into the event log and the hub."""

from __future__ import annotations

import logging
import time

from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.hub import SubscriptionHub
from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.ports import TickSource

_logger = logging.getLogger(__name__)


async def run_pipeline(
    source: TickSource, engine: DetectionEngine, log: EventLog, hub: SubscriptionHub
) -> None:
    """Process every tick of `source` until it ends or the task is cancelled.

    Detection and publishing are synchronous, so each batch of ticks is handled without yielding to the
    event loop: subscribers never see a partial batch, and event order equals log order.
    """
    _logger.info("pipeline started")
    async for ticks in source.ticks():
        for tick in ticks:
            events = engine.process(tick)
            if events:
                entries = log.append(events, ingest_ts_ns=tick.received_ns, detect_ts_ns=time.time_ns())
                hub.publish(entries)
    _logger.info("pipeline ended: the feed closed")
