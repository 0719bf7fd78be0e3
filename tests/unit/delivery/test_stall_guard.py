"""StallGuard: which writes get a deadline, from when, and when a stream counts as stalled."""

from __future__ import annotations

import asyncio

from event_factories import TS_NS, make_event

from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.filters import EventFilter
from tickstock_server.delivery.hub import (
    DeliveryOptions,
    EndReason,
    SlowConsumerPolicy,
    Subscriber,
    SubscriptionHub,
)
from tickstock_server.delivery.stall_guard import StallGuard


def _subscriber(policy: SlowConsumerPolicy, *, overflow: bool = False) -> Subscriber:
    hub = SubscriptionHub(max_streams_per_user=1, queue_capacity=10)
    options = DeliveryOptions(
        max_batch_size=100, max_batch_latency_s=0.0, heartbeat_interval_s=1.0, slow_consumer_policy=policy
    )
    subscriber = hub.subscribe("alice", EventFilter(), options)
    if overflow:
        log = EventLog(lambda event, seq, ingest, detect: b"", capacity=100)
        hub.publish(log.append([make_event() for _ in range(11)], ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS))
    return subscriber


def _now() -> float:
    return asyncio.get_running_loop().time()


async def test_a_disconnect_write_the_client_does_not_take_stalls_after_the_timeout() -> None:
    guard = StallGuard(5.0)
    guard.watch(_subscriber(SlowConsumerPolicy.DISCONNECT))

    guard.writing()
    started = _now()

    assert not guard.stalled(started + 4.9)
    assert guard.stalled(started + 5.0)
    assert "did not read the stream for 5 s" in guard.reason()


async def test_a_write_the_client_took_is_not_stalled_however_long_after() -> None:
    guard = StallGuard(5.0)
    guard.watch(_subscriber(SlowConsumerPolicy.DISCONNECT))

    guard.writing()
    guard.written()

    assert not guard.stalled(_now() + 3600)


async def test_after_an_overflow_the_deadline_runs_from_the_overflow() -> None:
    subscriber = _subscriber(SlowConsumerPolicy.DISCONNECT, overflow=True)
    guard = StallGuard(60.0)
    guard.watch(subscriber)
    assert subscriber.overloaded_at_s is not None

    subscriber.overloaded_at_s -= 61.0  # the overflow was noticed by the hub a minute ago
    guard.writing()

    assert guard.deadline() == subscriber.overloaded_at_s + 60.0
    assert guard.stalled(_now())
    assert "queue of 10 events overflowed" in guard.reason()


async def test_a_conflate_stream_may_stall_until_the_server_ends_it() -> None:
    subscriber = _subscriber(SlowConsumerPolicy.CONFLATE, overflow=True)
    guard = StallGuard(5.0)
    guard.watch(subscriber)
    while_running = guard.deadline()
    now = _now()

    subscriber.end(EndReason.MAX_AGE)
    once_ended = guard.deadline()

    assert while_running is None
    assert once_ended is not None
    assert now + 5.0 <= once_ended <= _now() + 5.0


async def test_writes_before_the_subscription_starts_never_stall() -> None:
    guard = StallGuard(5.0)

    guard.writing()

    assert guard.deadline() is None
    assert not guard.stalled(_now() + 3600)


async def test_a_conflate_write_waiting_when_the_server_ends_the_stream_gets_the_deadline() -> None:
    subscriber = _subscriber(SlowConsumerPolicy.CONFLATE)
    guard = StallGuard(5.0)
    guard.watch(subscriber)
    guard.writing()
    waiting = guard.stalled(_now() + 3600)

    subscriber.end(EndReason.SHUTDOWN)
    ended = _now()

    assert not waiting
    assert not guard.stalled(ended + 4.9)
    assert guard.stalled(ended + 5.0)
