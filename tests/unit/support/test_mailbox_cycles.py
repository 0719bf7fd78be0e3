"""Mailboxes and the hub's subscribers with their stall guards are freed by reference counting, through
every overflow policy: none of them is a reference cycle (see `tests/cyclic_garbage.py`)."""

from __future__ import annotations

from cyclic_garbage import cyclic_garbage
from event_factories import TS_NS, make_event

from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.filters import EventFilter
from tickstock_server.delivery.hub import DeliveryOptions, SlowConsumerPolicy, Subscriber, SubscriptionHub
from tickstock_server.delivery.stall_guard import StallGuard
from tickstock_server.support.mailbox import Mailbox, OverflowPolicy


def test_a_mailbox_of_either_policy_is_no_reference_cycle() -> None:
    with cyclic_garbage(Mailbox) as cycles:
        for policy in OverflowPolicy:
            mailbox: Mailbox[int] = Mailbox(2, policy)
            for item in range(5):
                mailbox.put(item)
            del mailbox
    assert cycles == []


async def test_an_ended_subscriber_and_its_stall_guard_are_no_reference_cycle() -> None:
    hub = SubscriptionHub(max_streams_per_user=10, queue_capacity=5)
    log = EventLog(lambda event, seq, ingest, detect: b"", capacity=100)
    with cyclic_garbage(Subscriber, StallGuard) as cycles:
        for policy in SlowConsumerPolicy:
            options = DeliveryOptions(
                max_batch_size=10,
                max_batch_latency_s=0.0,
                heartbeat_interval_s=1.0,
                slow_consumer_policy=policy,
            )
            subscriber = hub.subscribe("alice", EventFilter(), options)
            guard = StallGuard(5.0)
            guard.watch(subscriber)
            # Past the bound: DISCONNECT overflows, CONFLATE compacts.
            hub.publish(log.append([make_event() for _ in range(8)], ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS))
            guard.release()
            hub.unsubscribe(subscriber)
            del subscriber, guard
    assert cycles == []
