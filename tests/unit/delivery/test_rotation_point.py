"""A rotated stream's resume point covers what was offered to it, never entries logged after its end."""

from __future__ import annotations

from event_factories import TS_NS, make_event

from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.filters import EventFilter
from tickstock_server.delivery.hub import (
    DeliveryOptions,
    Ended,
    EndReason,
    SlowConsumerPolicy,
    SubscriptionHub,
)
from tickstock_server.delivery.session import from_end

_OPTIONS = DeliveryOptions(
    max_batch_size=100,
    max_batch_latency_s=0.0,
    heartbeat_interval_s=0.05,
    slow_consumer_policy=SlowConsumerPolicy.DISCONNECT,
)


async def test_an_entry_logged_between_the_end_and_the_hint_is_not_skipped() -> None:
    # Arrange: one entry delivered, then the stream's age ends it, then the pipeline logs another
    hub = SubscriptionHub(max_streams_per_user=10, queue_capacity=10)
    log = EventLog(lambda event, seq, ingest, detect: b"", capacity=100)
    subscriber = hub.subscribe("u", EventFilter(symbols=frozenset({"AAPL"})), _OPTIONS)
    hub.publish(log.append([make_event("AAPL")], ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS))
    subscriber.end(EndReason.MAX_AGE)
    hub.publish(log.append([make_event("AAPL")], ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS))

    # Act
    delivered = [entry.seq for entry in await subscriber.receive()]  # type: ignore[union-attr]
    ended = await subscriber.receive()
    assert isinstance(ended, Ended)
    hint = from_end(ended, delivered[-1], subscriber)

    # Assert: the hint resumes after seq 1, so seq 2 (never offered to this stream) is replayed
    assert (delivered, log.last_seq, hint.position) == ([1], 2, 1)


async def test_a_shutdown_hint_covers_entries_offered_but_filtered_out() -> None:
    # Arrange: entries of another symbol were offered (and filtered) before the shutdown
    hub = SubscriptionHub(max_streams_per_user=10, queue_capacity=10)
    log = EventLog(lambda event, seq, ingest, detect: b"", capacity=100)
    subscriber = hub.subscribe("u", EventFilter(symbols=frozenset({"AAPL"})), _OPTIONS)
    hub.publish(log.append([make_event("MSFT"), make_event("MSFT")], ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS))

    # Act
    hub.close()
    ended = await subscriber.receive()
    assert isinstance(ended, Ended)
    hint = from_end(ended, 0, subscriber)

    # Assert: nothing this filter selects is lost by resuming after seq 2
    assert hint.position == 2
