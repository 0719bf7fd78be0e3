"""The metrics collector: every existing series unchanged, families merged across components."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest
from event_factories import TS_NS, make_event
from factories import NS_PER_S, REGULAR_TS_NS, make_tick
from prometheus_client import CollectorRegistry, generate_latest

from tickstock_server.bus.event_stream import RedisEventStore
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.filters import EventFilter
from tickstock_server.delivery.hub import DeliveryOptions, SubscriptionHub
from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.metrics import ServiceCollector
from tickstock_server.pipeline import FeedMetrics, FeedStatus
from tickstock_server.storage.bar_writer import BarWriterStats, PgBarWriter
from tickstock_server.support.metric_samples import Instrumented, MetricSample, counter, gauge, histogram

# The exposition of the service's series before components reported their own samples, for the state
# `_components` builds: names, help, types, labels and values must stay exactly these.
EXISTING_SERIES = """\
# HELP tickstock_ticks_processed_total Valid ticks run through the detectors.
# TYPE tickstock_ticks_processed_total counter
tickstock_ticks_processed_total 5.0
# HELP tickstock_feed_rejected_total Feed frames, events and ticks skipped as malformed, by reason \
(counted and logged, never raised); invalid_tick is a parsed tick the detectors refused (bad price, \
volume or time).
# TYPE tickstock_feed_rejected_total counter
tickstock_feed_rejected_total{reason="bad_value"} 3.0
tickstock_feed_rejected_total{reason="not_json"} 1.0
tickstock_feed_rejected_total{reason="invalid_tick"} 1.0
# HELP tickstock_events_detected_total Events the detectors emitted.
# TYPE tickstock_events_detected_total counter
tickstock_events_detected_total 3.0
# HELP tickstock_symbols Symbols with detector state.
# TYPE tickstock_symbols gauge
tickstock_symbols 2.0
# HELP tickstock_feed_age_seconds Wall-clock time since the feed last delivered ticks (0 before the first).
# TYPE tickstock_feed_age_seconds gauge
tickstock_feed_age_seconds 2.5
# HELP tickstock_events_logged_total Events sequenced into the event log (its last seq).
# TYPE tickstock_events_logged_total counter
tickstock_events_logged_total 2.0
# HELP tickstock_subscribers Open event streams.
# TYPE tickstock_subscribers gauge
tickstock_subscribers 1.0
# HELP tickstock_subscribers_overloaded_total Event streams ended because the client read too slowly \
(DISCONNECT policy).
# TYPE tickstock_subscribers_overloaded_total counter
tickstock_subscribers_overloaded_total 1.0
# HELP tickstock_event_store_appended_total Log entries written to the Redis Stream.
# TYPE tickstock_event_store_appended_total counter
tickstock_event_store_appended_total 0.0
# HELP tickstock_event_store_dropped_total Log entries never persisted because the write buffer \
overflowed during a Redis outage.
# TYPE tickstock_event_store_dropped_total counter
tickstock_event_store_dropped_total 0.0
# HELP tickstock_event_store_failures_total Failed Redis Stream writes.
# TYPE tickstock_event_store_failures_total counter
tickstock_event_store_failures_total 0.0
# HELP tickstock_event_store_mark_failures_total Failed writes of the log's high-water mark to PostgreSQL.
# TYPE tickstock_event_store_mark_failures_total counter
tickstock_event_store_mark_failures_total 0.0
# HELP tickstock_event_store_pending Log entries waiting to be written.
# TYPE tickstock_event_store_pending gauge
tickstock_event_store_pending 2.0
# HELP tickstock_bars_written_total Bar rows written to PostgreSQL.
# TYPE tickstock_bars_written_total counter
tickstock_bars_written_total 0.0
# HELP tickstock_bars_quarantined_total Bars rejected by PostgreSQL for their data (quarantined).
# TYPE tickstock_bars_quarantined_total counter
tickstock_bars_quarantined_total 0.0
# HELP tickstock_bar_flushes_total Successful bar flushes.
# TYPE tickstock_bar_flushes_total counter
tickstock_bar_flushes_total 0.0
# HELP tickstock_bar_flush_failures_total Failed bar flushes.
# TYPE tickstock_bar_flush_failures_total counter
tickstock_bar_flush_failures_total 0.0
# HELP tickstock_bars_pending Bars buffered, not yet durable.
# TYPE tickstock_bars_pending gauge
tickstock_bars_pending 0.0
# HELP tickstock_bar_backpressure_seconds_total Time ingest waited for room in the full bar buffer.
# TYPE tickstock_bar_backpressure_seconds_total counter
tickstock_bar_backpressure_seconds_total 0.0
# HELP tickstock_bar_writer_healthy 1 while bar flushes succeed and the buffer has room.
# TYPE tickstock_bar_writer_healthy gauge
tickstock_bar_writer_healthy 1.0
"""


class _Source:
    rejected: Mapping[str, int] = {"not_json": 1, "bad_value": 3}


def _components() -> list[Instrumented]:
    engine = DetectionEngine()
    for index in range(5):
        engine.process(
            make_tick(
                symbol="AAPL" if index % 2 else "MSFT",
                price=100.0 + index,
                ts_ns=REGULAR_TS_NS + index * NS_PER_S,
            )
        )
    engine.process(make_tick(price=-1.0))
    log = EventLog(lambda *_: b"", capacity=10)
    entries = log.append([make_event("AAPL"), make_event("MSFT")], ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS)
    hub = SubscriptionHub(max_streams_per_user=5, queue_capacity=1)
    options = DeliveryOptions(max_batch_size=10, max_batch_latency_s=0.0, heartbeat_interval_s=1.0)
    overflowing = hub.subscribe("u", EventFilter(), options)
    hub.subscribe("u", EventFilter(symbols=frozenset({"XOM"})), options)
    hub.publish(entries)
    hub.unsubscribe(overflowing)
    store = RedisEventStore(None, clock=lambda: 0.0)  # type: ignore[arg-type]  # never connects here
    store.add(entries)
    status = FeedStatus()
    status.last_arrival_ns = REGULAR_TS_NS
    feed = FeedMetrics(status, _Source(), clock_ns=lambda: REGULAR_TS_NS + 2_500_000_000)
    writer = PgBarWriter(None)  # type: ignore[arg-type]  # never flushes here
    return [engine, feed, log, hub, store, writer]


def _exposition(components: list[Instrumented], constant_labels: Mapping[str, str] | None = None) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(components, constant_labels=constant_labels))
    return generate_latest(registry).decode()


def _series(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


async def test_the_existing_series_keep_their_names_help_types_labels_and_values() -> None:
    exported = _exposition(_components())

    # Family order and sample order within a family carry no meaning in Prometheus; series added
    # since (queue depths) may join, but none of these may change.
    assert set(EXISTING_SERIES.splitlines()) <= set(exported.splitlines())


def test_bar_writer_flush_lag_is_exported_once_a_flush_succeeded() -> None:
    stats = BarWriterStats(
        rows_written=11,
        quarantined=3,
        flushes=4,
        failed_flushes=1,
        pending=2,
        backpressure_waits=1,
        backpressure_s=0.25,
        last_flush_lag_s=0.125,
        last_error=None,
        healthy=False,
    )

    samples = {sample.name: sample.value for sample in stats.metric_samples()}

    assert samples == {
        "tickstock_bars_written": 11,
        "tickstock_bars_quarantined": 3,
        "tickstock_bar_flushes": 4,
        "tickstock_bar_flush_failures": 1,
        "tickstock_bars_pending": 2,
        "tickstock_bar_backpressure_seconds": 0.25,
        "tickstock_bar_writer_healthy": 0.0,
        "tickstock_bar_flush_lag_seconds": 0.125,
    }


class _Fixed:
    def __init__(self, *samples: MetricSample) -> None:
        self._samples = list(samples)

    def metric_samples(self) -> list[MetricSample]:
        return self._samples


def test_samples_of_one_name_from_several_components_form_one_family() -> None:
    first = _Fixed(counter("demo_things", "Things.", 1, kind="a"), gauge("demo_level", "Level.", 0.5))
    second = _Fixed(counter("demo_things", "Things.", 2, kind="b"))

    exported = _exposition([first, second])

    assert exported.count("# TYPE demo_things_total counter") == 1
    assert _series(exported) == {
        'demo_things_total{kind="a"}': 1.0,
        'demo_things_total{kind="b"}': 2.0,
        "demo_level": 0.5,
    }


@pytest.mark.parametrize(
    "other",
    [
        counter("demo_things", "Other help.", 2, kind="b"),
        gauge("demo_things", "Things.", 2, kind="b"),
        counter("demo_things", "Things.", 2, sort="b"),
    ],
    ids=["help", "kind", "labels"],
)
def test_samples_of_one_name_that_disagree_are_a_bug(other: MetricSample) -> None:
    collector = ServiceCollector([_Fixed(counter("demo_things", "Things.", 1, kind="a"), other)])

    with pytest.raises(ValueError, match="demo_things"):
        list(collector.collect())


def test_a_histogram_sample_is_exported_with_its_buckets_count_and_sum() -> None:
    pauses = histogram("demo_pause_seconds", "Pauses.", [(0.5, 1), (1.0, 3), (math.inf, 4)], 2.25, kind="a")

    exported = _exposition([_Fixed(pauses)])

    assert "# TYPE demo_pause_seconds histogram" in exported.splitlines()
    assert _series(exported) == {
        'demo_pause_seconds_bucket{kind="a",le="0.5"}': 1.0,
        'demo_pause_seconds_bucket{kind="a",le="1.0"}': 3.0,
        'demo_pause_seconds_bucket{kind="a",le="+Inf"}': 4.0,
        'demo_pause_seconds_count{kind="a"}': 4.0,
        'demo_pause_seconds_sum{kind="a"}': 2.25,
    }


@pytest.mark.parametrize(
    "buckets",
    [[], [(0.5, 1), (1.0, 3)], [(1.0, 1), (0.5, 2), (math.inf, 3)], [(0.5, 3), (1.0, 1), (math.inf, 4)]],
    ids=["empty", "no +Inf", "bounds not increasing", "counts not cumulative"],
)
def test_histogram_buckets_out_of_form_are_refused(buckets: list[tuple[float, float]]) -> None:
    with pytest.raises(ValueError, match="demo_pause_seconds"):
        histogram("demo_pause_seconds", "Pauses.", buckets, 1.0)


def test_constant_labels_are_added_to_every_series_of_every_kind() -> None:
    component = _Fixed(
        counter("demo_things", "Things.", 1, kind="a"),
        gauge("demo_level", "Level.", 0.5),
        histogram("demo_pause_seconds", "Pauses.", [(1.0, 1), (math.inf, 2)], 3.0),
    )

    exported = _exposition([component], {"role": "gateway"})

    assert _series(exported) == {
        'demo_things_total{kind="a",role="gateway"}': 1.0,
        'demo_level{role="gateway"}': 0.5,
        'demo_pause_seconds_bucket{le="1.0",role="gateway"}': 1.0,
        'demo_pause_seconds_bucket{le="+Inf",role="gateway"}': 2.0,
        'demo_pause_seconds_count{role="gateway"}': 2.0,
        'demo_pause_seconds_sum{role="gateway"}': 3.0,
    }


def test_a_sample_carrying_a_constant_label_is_a_bug() -> None:
    collector = ServiceCollector(
        [_Fixed(gauge("demo_level", "Level.", 0.5, role="ingest"))], constant_labels={"role": "gateway"}
    )

    with pytest.raises(ValueError, match="demo_level"):
        list(collector.collect())
