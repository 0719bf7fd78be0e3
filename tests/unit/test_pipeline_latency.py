"""The pipeline's detection latency: one observation per non-empty tick batch, none per tick."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from factories import NS_PER_S, REGULAR_TS_NS, make_tick

from tickstock_server.delivery.event_log import EventLog
from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.domain.tick import Tick
from tickstock_server.pipeline import DETECTION_BUCKETS_S, DetectionLatency, run_pipeline


class _Batches:
    """A feed of fixed batches."""

    rejected: Mapping[str, int] = {}

    def __init__(self, *batches: list[Tick]) -> None:
        self._batches = batches

    async def ticks(self) -> AsyncIterator[list[Tick]]:
        for batch in self._batches:
            yield batch


async def test_each_non_empty_batch_is_observed_once_whatever_its_size() -> None:
    # Arrange: batches of 50 ticks, none, and 1 tick
    ticks = [make_tick(price=100.0 + i, ts_ns=REGULAR_TS_NS + i * NS_PER_S) for i in range(51)]
    latency = DetectionLatency()

    # Act
    await run_pipeline(
        _Batches(ticks[:50], [], ticks[50:]),
        DetectionEngine(),
        EventLog(lambda *_: b"", capacity=100),
        None,
        latency=latency,
    )

    # Assert
    (sample,) = latency.metric_samples()
    assert sample.name == "tickstock_detection_latency_seconds"
    assert [bound for bound, _ in sample.buckets][:-1] == list(DETECTION_BUCKETS_S)
    assert sample.buckets[-1][1] == latency.batches.count == 2
    assert sample.value == latency.batches.sum > 0
