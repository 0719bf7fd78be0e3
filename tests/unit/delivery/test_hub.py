"""The hub's routing index and each subscriber's queue: batching, slow-consumer policies, ends."""

from __future__ import annotations

import asyncio

from event_factories import TS_NS, make_event

from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.filters import EventFilter
from tickstock_server.delivery.hub import (
    DeliveryOptions,
    Dropped,
    Ended,
    EndReason,
    Heartbeat,
    SlowConsumerPolicy,
    SubscriptionHub,
)
from tickstock_server.domain.events import Event, EventType
from tickstock_server.domain.log_entry import LogEntry


def _options(policy: SlowConsumerPolicy = SlowConsumerPolicy.DISCONNECT, **kw: float) -> DeliveryOptions:
    values = {"max_batch_size": 100, "max_batch_latency_s": 0.0, "heartbeat_interval_s": 0.05, **kw}
    return DeliveryOptions(
        max_batch_size=int(values["max_batch_size"]),
        max_batch_latency_s=values["max_batch_latency_s"],
        heartbeat_interval_s=values["heartbeat_interval_s"],
        slow_consumer_policy=policy,
    )


def _log() -> EventLog:
    return EventLog(lambda event, seq, ingest, detect: b"", capacity=1000)


def _append(log: EventLog, *events: Event) -> list[LogEntry]:
    return log.append(events, ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS)


async def test_entries_reach_only_subscribers_of_their_symbol_and_type() -> None:
    hub = SubscriptionHub(max_streams_per_user=10, queue_capacity=100)
    aapl_lows = hub.subscribe(
        "u", EventFilter(symbols=frozenset({"AAPL"}), event_types=frozenset({EventType.LOW})), _options()
    )
    every_high = hub.subscribe("u", EventFilter(event_types=frozenset({EventType.HIGH})), _options())
    log = _log()

    hub.publish(_append(log, make_event("AAPL"), make_event("AAPL", type=EventType.LOW), make_event("MSFT")))

    assert [e.seq for e in await aapl_lows.receive()] == [2]  # type: ignore[union-attr]
    assert [e.seq for e in await every_high.receive()] == [1, 3]  # type: ignore[union-attr]


async def test_unsubscribe_removes_every_index_entry() -> None:
    hub = SubscriptionHub(max_streams_per_user=10, queue_capacity=100)
    subscriber = hub.subscribe("u", EventFilter(symbols=frozenset({"AAPL", "MSFT"})), _options())
    hub.unsubscribe(subscriber)
    hub.unsubscribe(subscriber)  # idempotent

    hub.publish(_append(_log(), make_event("AAPL")))

    assert len(hub) == 0
    assert hub.open_streams("u") == 0
    assert subscriber.queue_depth == 0


async def test_zero_batch_latency_sends_a_whole_publish_pass_as_one_batch() -> None:
    hub = SubscriptionHub(max_streams_per_user=10, queue_capacity=100)
    subscriber = hub.subscribe("u", EventFilter(), _options())
    log = _log()
    receiving = asyncio.ensure_future(subscriber.receive())
    await asyncio.sleep(0)

    hub.publish(_append(log, *(make_event("AAPL", price=100 + i) for i in range(3))))

    assert [e.seq for e in await receiving] == [1, 2, 3]  # type: ignore[union-attr]


async def test_idle_subscriber_gets_heartbeat() -> None:
    hub = SubscriptionHub(max_streams_per_user=10, queue_capacity=100)
    subscriber = hub.subscribe("u", EventFilter(), _options(heartbeat_interval_s=0.01))

    assert isinstance(await subscriber.receive(), Heartbeat)


async def test_disconnect_policy_drops_on_overflow_and_ends_overloaded() -> None:
    hub = SubscriptionHub(max_streams_per_user=10, queue_capacity=3)
    subscriber = hub.subscribe("u", EventFilter(), _options())

    hub.publish(_append(_log(), *(make_event("AAPL", price=100 + i) for i in range(5))))

    dropped = await subscriber.receive()
    assert dropped == Dropped(policy=SlowConsumerPolicy.DISCONNECT, count=2, first_seq=4, last_seq=5, total=2)
    assert await subscriber.receive() == Ended(EndReason.OVERLOADED)
    hub.unsubscribe(subscriber)
    assert hub.overloaded_total == 1


async def test_conflate_policy_keeps_newest_per_symbol_and_type_and_reports_counts() -> None:
    hub = SubscriptionHub(max_streams_per_user=10, queue_capacity=4)
    subscriber = hub.subscribe("u", EventFilter(), _options(SlowConsumerPolicy.CONFLATE))
    log = _log()
    # seq 1 AAPL high, 2 MSFT high, 3 AAPL high, 4 AAPL low, then 5 MSFT high overflows the queue of 4:
    # compaction keeps the newest per (symbol, type): 3 (AAPL high), 4 (AAPL low), 5 (MSFT high); drops 1, 2.
    hub.publish(
        _append(
            log,
            make_event("AAPL"),
            make_event("MSFT"),
            make_event("AAPL"),
            make_event("AAPL", type=EventType.LOW),
            make_event("MSFT"),
        )
    )

    notice = await subscriber.receive()
    batch = await subscriber.receive()

    assert notice == Dropped(policy=SlowConsumerPolicy.CONFLATE, count=2, first_seq=1, last_seq=2, total=2)
    assert [e.seq for e in batch] == [3, 4, 5]  # type: ignore[union-attr]


async def test_conflate_with_distinct_keys_drops_the_oldest_down_to_headroom() -> None:
    hub = SubscriptionHub(max_streams_per_user=10, queue_capacity=10)
    subscriber = hub.subscribe("u", EventFilter(), _options(SlowConsumerPolicy.CONFLATE))
    symbols = [f"S{i}" for i in range(11)]

    # 11 distinct keys overflow a queue of 10: compaction frees nothing, so the oldest go until 9 remain.
    hub.publish(_append(_log(), *(make_event(symbol) for symbol in symbols)))

    notice = await subscriber.receive()
    assert isinstance(notice, Dropped)
    assert (notice.count, notice.first_seq, notice.last_seq) == (2, 1, 2)
    assert [e.seq for e in await subscriber.receive()] == list(range(3, 12))  # type: ignore[union-attr]


async def test_planned_end_delivers_the_queue_first() -> None:
    hub = SubscriptionHub(max_streams_per_user=10, queue_capacity=10)
    subscriber = hub.subscribe("u", EventFilter(), _options(max_batch_latency_s=1.0))
    hub.publish(_append(_log(), make_event("AAPL")))

    subscriber.end(EndReason.MAX_AGE)
    subscriber.end(EndReason.SHUTDOWN)  # the first reason wins

    assert [e.seq for e in await subscriber.receive()] == [1]  # type: ignore[union-attr]
    assert await subscriber.receive() == Ended(EndReason.MAX_AGE)


async def test_closed_hub_refuses_new_subscriptions() -> None:
    hub = SubscriptionHub(max_streams_per_user=10, queue_capacity=10)
    subscriber = hub.subscribe("u", EventFilter(), _options())
    hub.close()

    assert await subscriber.receive() == Ended(EndReason.SHUTDOWN)
    try:
        hub.subscribe("u", EventFilter(), _options())
    except Exception as exc:
        assert type(exc).__name__ == "NotReadyError"
    else:
        raise AssertionError("subscribe after close must fail")
