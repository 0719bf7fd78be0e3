"""Queue depths at scrape time: the event streams' queues (all together and the deepest) and the ring."""

from __future__ import annotations

from event_factories import TS_NS, make_event

from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.filters import EventFilter
from tickstock_server.delivery.hub import DeliveryOptions, SubscriptionHub

_OPTIONS = DeliveryOptions(max_batch_size=10, max_batch_latency_s=0.0, heartbeat_interval_s=1.0)


def _gauges(component: SubscriptionHub | EventLog) -> dict[str, float]:
    return {sample.name: sample.value for sample in component.metric_samples() if not sample.labels}


async def test_subscriber_queues_report_their_total_and_deepest_depth() -> None:
    # Arrange: one stream of every symbol, one of AAPL only, one of nothing published
    log = EventLog(lambda *_: b"", capacity=100)
    hub = SubscriptionHub(max_streams_per_user=5, queue_capacity=50)
    everything = hub.subscribe("u", EventFilter(), _OPTIONS)
    hub.subscribe("u", EventFilter(symbols=frozenset({"AAPL"})), _OPTIONS)
    hub.subscribe("u", EventFilter(symbols=frozenset({"XOM"})), _OPTIONS)

    # Act
    events = [make_event("AAPL"), make_event("MSFT"), make_event("AAPL")]
    hub.publish(log.append(events, ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS))

    # Assert
    gauges = _gauges(hub)
    assert gauges["tickstock_subscriber_queued_events"] == 5
    assert gauges["tickstock_subscriber_queue_max_events"] == 3
    assert gauges["tickstock_subscriber_queue_capacity_events"] == 50
    everything.take_batch(10)
    assert _gauges(hub)["tickstock_subscriber_queue_max_events"] == 2


def test_queue_depths_are_zero_without_subscribers() -> None:
    gauges = _gauges(SubscriptionHub(max_streams_per_user=5, queue_capacity=50))

    assert (
        gauges["tickstock_subscriber_queued_events"],
        gauges["tickstock_subscriber_queue_max_events"],
    ) == (
        0,
        0,
    )


def test_the_ring_reports_entries_held_up_to_its_capacity() -> None:
    log = EventLog(lambda *_: b"", capacity=3)
    assert _gauges(log)["tickstock_event_log_entries"] == 0

    log.append([make_event("AAPL")] * 5, ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS)

    gauges = _gauges(log)
    assert (gauges["tickstock_event_log_entries"], gauges["tickstock_event_log_capacity_entries"]) == (3, 3)
