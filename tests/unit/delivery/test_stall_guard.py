"""StallGuard: which writes get a deadline, from when, and what a missed one raises."""

from __future__ import annotations

import asyncio

import pytest
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
from tickstock_server.errors import SubscriberOverloadedError


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


async def _never_taken() -> None:
    """A write the client never takes: it stopped reading."""
    await asyncio.Event().wait()


async def test_a_disconnect_write_the_client_never_takes_ends_the_stream() -> None:
    guard = StallGuard(0.01)
    guard.watch(_subscriber(SlowConsumerPolicy.DISCONNECT))

    with pytest.raises(SubscriberOverloadedError, match="did not read the stream for 0.01 s"):
        await guard.write(_never_taken())


async def test_after_an_overflow_the_deadline_runs_from_the_overflow() -> None:
    subscriber = _subscriber(SlowConsumerPolicy.DISCONNECT, overflow=True)
    guard = StallGuard(60.0)
    guard.watch(subscriber)
    assert subscriber.overloaded_at_s is not None

    subscriber.overloaded_at_s -= 61.0  # the overflow was noticed by the hub a minute ago

    assert guard.deadline() == subscriber.overloaded_at_s + 60.0
    with pytest.raises(SubscriberOverloadedError, match="queue of 10 events overflowed"):
        await guard.write(_never_taken())


async def test_a_conflate_stream_may_stall_until_the_server_ends_it() -> None:
    subscriber = _subscriber(SlowConsumerPolicy.CONFLATE, overflow=True)
    guard = StallGuard(5.0)
    guard.watch(subscriber)
    while_running = guard.deadline()
    now = asyncio.get_running_loop().time()

    subscriber.end(EndReason.MAX_AGE)
    once_ended = guard.deadline()

    assert while_running is None
    assert once_ended is not None
    assert now + 5.0 <= once_ended <= asyncio.get_running_loop().time() + 5.0


async def test_writes_before_the_subscription_starts_have_no_deadline() -> None:
    assert StallGuard(5.0).deadline() is None


async def test_a_timeout_raised_by_the_write_itself_is_not_a_stall() -> None:
    guard = StallGuard(60.0)
    guard.watch(_subscriber(SlowConsumerPolicy.DISCONNECT))

    async def failing() -> None:
        raise TimeoutError("the write's own")

    with pytest.raises(TimeoutError, match="the write's own"):
        await guard.write(failing())


async def test_a_write_taken_in_time_completes() -> None:
    guard = StallGuard(60.0)
    guard.watch(_subscriber(SlowConsumerPolicy.DISCONNECT))
    taken: list[str] = []

    async def taken_at_once() -> None:
        taken.append("message")

    await guard.write(taken_at_once())

    assert taken == ["message"]


async def test_a_conflate_write_waiting_when_the_server_ends_the_stream_gets_the_deadline() -> None:
    subscriber = _subscriber(SlowConsumerPolicy.CONFLATE)
    guard = StallGuard(0.01)
    guard.watch(subscriber)
    write = asyncio.create_task(guard.write(_never_taken()))
    await asyncio.sleep(0)

    subscriber.end(EndReason.SHUTDOWN)

    with pytest.raises(SubscriberOverloadedError, match="did not read the stream"):
        await write
