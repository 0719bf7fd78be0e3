"""A gateway's follower against a real Redis: it takes what the writer stored, in order, and asks open
streams to resume across a hole or a new epoch instead of skipping seqs silently."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from event_factories import TS_NS, make_event
from polling import eventually

from tickstock_server.bus.event_follower import STEP_ENTRIES, RedisEventFollower
from tickstock_server.bus.event_stream import EventStoreConfig, RedisEventStore
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.filters import EventFilter
from tickstock_server.delivery.hub import DeliveryOptions, Ended, EndReason, Subscriber, SubscriptionHub
from tickstock_server.domain.log_entry import LogEntry

OPTIONS = DeliveryOptions(max_batch_size=1000, max_batch_latency_s=0.0, heartbeat_interval_s=30.0)


def _encode(event: object, seq: int, ingest: int, detect: int) -> bytes:
    return f"event-{seq}".encode()


def _entries(log: EventLog, count: int) -> list[LogEntry]:
    return log.append(
        [make_event("AAPL", price=100 + i) for i in range(count)], ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS
    )


async def _written(store: RedisEventStore, entries: list[LogEntry]) -> None:
    store.add(entries)
    task = asyncio.create_task(store.run())
    await eventually(lambda: store.pending == 0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _opened_store(client: aioredis.Redis, prefix: str) -> tuple[RedisEventStore, EventLog]:
    """The ingest's side: the stream's writer, opened, and the log that hands out its seqs."""
    store = RedisEventStore(client, EventStoreConfig(key_prefix=prefix))
    position = await store.open()
    return store, EventLog(_encode, capacity=100, epoch=position.epoch)


class _Following:
    def __init__(self, follower: RedisEventFollower, log: EventLog, hub: SubscriptionHub) -> None:
        self.follower, self.log, self.hub = follower, log, hub
        self.task = asyncio.create_task(follower.run(log, hub))

    def subscribe(self) -> Subscriber:
        return self.hub.subscribe("alice", EventFilter(), OPTIONS)


@pytest.fixture
async def prefix() -> str:
    return f"test:{uuid.uuid4().hex}:"


@contextlib.asynccontextmanager
async def _follow(client: aioredis.Redis, prefix: str) -> AsyncIterator[_Following]:
    follower = RedisEventFollower(client, key_prefix=prefix, block_ms=50, epoch_poll_s=0.01)
    epoch, last = await follower.open()
    log = EventLog(_encode, capacity=100, epoch=epoch, last_seq=last)
    following = _Following(follower, log, SubscriptionHub(max_streams_per_user=5, queue_capacity=100))
    try:
        yield following
    finally:
        following.task.cancel()
        await asyncio.gather(following.task, return_exceptions=True)


async def _received(subscriber: Subscriber) -> list[int | Ended]:
    got: list[int | Ended] = []
    while True:
        delivery = await asyncio.wait_for(subscriber.receive(), 5)
        if isinstance(delivery, Ended):
            return [*got, delivery]
        assert isinstance(delivery, list)
        got += [entry.seq for entry in delivery]
        if got and got[-1] >= 4:
            return got


async def test_stored_entries_reach_the_log_and_the_hub_in_order(client: aioredis.Redis, prefix: str) -> None:
    store, writer_log = await _opened_store(client, prefix)
    await _written(store, _entries(writer_log, 2))
    async with _follow(client, prefix) as following:
        subscriber = following.subscribe()
        await _written(store, _entries(writer_log, 2))

        assert await _received(subscriber) == [3, 4]
        assert following.log.read(2, 4, 10)[0].encoded == b"event-3"
        assert await following.follower.read(0, 4, 10) != []


async def test_one_stored_write_is_one_read_and_one_batch_per_stream(
    client: aioredis.Redis, prefix: str
) -> None:
    store, writer_log = await _opened_store(client, prefix)
    async with _follow(client, prefix) as following:
        subscriber = following.subscribe()
        await _written(store, _entries(writer_log, 3))

        batch = await asyncio.wait_for(subscriber.receive(), 5)

        assert isinstance(batch, list)
        assert [entry.seq for entry in batch] == [1, 2, 3]
        assert following.follower.reads == 1


async def test_a_hole_ends_open_streams_before_the_entries_after_it(
    client: aioredis.Redis, prefix: str
) -> None:
    store, writer_log = await _opened_store(client, prefix)
    async with _follow(client, prefix) as following:
        subscriber = following.subscribe()
        first, _lost, after = _entries(writer_log, 2), _entries(writer_log, 2), _entries(writer_log, 2)
        await _written(store, first + after)  # seqs 3 and 4 were handed out, never written

        received = await _received(subscriber)
        await eventually(lambda: following.log.last_seq == 6)

    assert received == [1, 2, Ended(EndReason.LOG_RESTARTED)]
    assert isinstance(received[-1], Ended) and received[-1].offered_seq == 2  # the resume starts after 2
    assert following.follower.restarts == 1


async def test_a_new_epoch_ends_open_streams_and_the_log_follows_it(
    client: aioredis.Redis, prefix: str
) -> None:
    store = RedisEventStore(client, EventStoreConfig(key_prefix=prefix))
    old = await store.open()
    await _written(store, _entries(EventLog(_encode, capacity=100, epoch=old.epoch), 3))
    async with _follow(client, prefix) as following:
        subscriber = following.subscribe()
        restarted = RedisEventStore(client, EventStoreConfig(key_prefix=prefix))
        new = await restarted.open(new_epoch=True)
        await _written(restarted, _entries(EventLog(_encode, capacity=100, epoch=new.epoch), 2))

        assert await _received(subscriber) == [Ended(EndReason.LOG_RESTARTED)]
        await eventually(lambda: (following.log.epoch, following.log.last_seq) == (new.epoch, 2))
        assert [entry.seq for entry in following.log.read(0, 2, 10)] == [1, 2]


async def test_a_large_read_is_published_in_steps_that_let_other_tasks_run(
    client: aioredis.Redis, prefix: str
) -> None:
    store = RedisEventStore(client, EventStoreConfig(key_prefix=prefix))
    position = await store.open()
    await _written(store, _entries(EventLog(_encode, capacity=2000, epoch=position.epoch), 1000))
    follower = RedisEventFollower(client, key_prefix=prefix, block_ms=50, epoch_poll_s=0.01)
    epoch, _ = await follower.open()
    log = EventLog(_encode, capacity=2000, epoch=epoch, last_seq=0)
    seen: list[int] = []

    async def probe() -> None:
        while True:
            seen.append(log.last_seq)
            await asyncio.sleep(0)

    probing = asyncio.create_task(probe())
    following = asyncio.create_task(
        follower.run(log, SubscriptionHub(max_streams_per_user=1, queue_capacity=1))
    )
    await eventually(lambda: log.last_seq == 1000)
    following.cancel()
    probing.cancel()
    await asyncio.gather(following, probing, return_exceptions=True)

    assert {seq for seq in seen if 0 < seq < 1000} == set(range(STEP_ENTRIES, 1000, STEP_ENTRIES))
