"""The event log against its durable high-water mark in PostgreSQL: a Redis that comes back with less
than it stored (an older snapshot) starts a new epoch, so no (epoch, seq) pair can name two events."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
import redis.asyncio as aioredis
from event_factories import TS_NS, make_event
from polling import eventually

from tickstock_server.bus.event_stream import EventStoreConfig, LogPosition, RedisEventStore, stream_key
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.ports.events import LogMark
from tickstock_server.storage.log_marks import PgLogMarks
from tickstock_server.storage.migrate import apply_migrations


@pytest.fixture
async def marks(pg_pool: asyncpg.Pool) -> PgLogMarks:
    await apply_migrations(pg_pool)
    return PgLogMarks(pg_pool)


def _encode(event: object, seq: int, ingest: int, detect: int) -> bytes:
    return f"event-{seq}".encode()


async def _write(
    client: aioredis.Redis, config: EventStoreConfig, marks: PgLogMarks, count: int, *, close: bool
) -> LogPosition:
    """Open a store, write `count` entries, and close it cleanly or leave it as a crash would."""
    store = RedisEventStore(client, config, marks=marks)
    position = await store.open()
    log = EventLog(_encode, capacity=10, epoch=position.epoch, last_seq=position.last_seq)
    task = asyncio.create_task(store.run())
    for i in range(count):  # one at a time: each batch that reserves more advances the mark
        store.add(log.append([make_event("S", price=100 + i)], ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS))
        await eventually(lambda: store.pending == 0, 10, 0.001)
    if close:
        store.close(log.last_seq)
        await task
    else:
        task.cancel()
        await asyncio.wait([task])
    return position


async def _lose_entries_after(client: aioredis.Redis, config: EventStoreConfig, epoch: str, seq: int) -> None:
    """What an older snapshot brings back: the stream and the reservation as they were at `seq`."""
    key = stream_key(config.key_prefix, epoch)
    later = await client.xrange(key, f"{seq + 1}-0", "+")
    await client.xdel(key, *[row_id for row_id, _ in later])
    await client.hset(config.key_prefix + "meta", "reserved", seq)


async def test_a_stream_that_lost_stored_entries_starts_a_new_epoch(
    client: aioredis.Redis, marks: PgLogMarks
) -> None:
    config = EventStoreConfig(key_prefix=f"test:{uuid.uuid4().hex}:", reserve_block=10)
    first = await _write(client, config, marks, 60, close=False)
    await _lose_entries_after(client, config, first.epoch, 20)

    reopened = await RedisEventStore(client, config, marks=marks).open()

    assert reopened.epoch != first.epoch
    assert reopened.last_seq == 0
    assert await client.exists(stream_key(config.key_prefix, first.epoch)) == 0


async def test_a_clean_close_continues_the_epoch_right_after_its_last_seq(
    client: aioredis.Redis, marks: PgLogMarks
) -> None:
    config = EventStoreConfig(key_prefix=f"test:{uuid.uuid4().hex}:", reserve_block=10)
    first = await _write(client, config, marks, 25, close=True)

    reopened = await RedisEventStore(client, config, marks=marks).open()

    assert reopened == LogPosition(first.epoch, 25)
    assert await marks.get(config.key_prefix, first.epoch) == LogMark(reserved=35, stored=25)


async def test_a_crash_with_redis_intact_continues_the_epoch_after_every_reserved_seq(
    client: aioredis.Redis, marks: PgLogMarks
) -> None:
    config = EventStoreConfig(key_prefix=f"test:{uuid.uuid4().hex}:", reserve_block=10)
    first = await _write(client, config, marks, 25, close=False)
    mark = await marks.get(config.key_prefix, first.epoch)

    reopened = await RedisEventStore(client, config, marks=marks).open()

    assert mark is not None and mark.stored >= 20 and mark.reserved > 25
    assert reopened.epoch == first.epoch
    assert reopened.last_seq >= mark.reserved  # no seq that may have been handed out is issued again


async def test_the_reservation_in_postgresql_wins_over_a_lower_one_in_redis(
    client: aioredis.Redis, marks: PgLogMarks
) -> None:
    config = EventStoreConfig(key_prefix=f"test:{uuid.uuid4().hex}:", reserve_block=10)
    first = await _write(client, config, marks, 25, close=False)
    await client.hset(config.key_prefix + "meta", "reserved", 25)  # the entries survive, the hash is older
    mark = await marks.get(config.key_prefix, first.epoch)

    reopened = await RedisEventStore(client, config, marks=marks).open()

    assert mark is not None and mark.reserved > 25
    assert reopened == LogPosition(first.epoch, mark.reserved)


async def test_a_new_epoch_forgets_the_marks_of_the_old_ones(
    client: aioredis.Redis, marks: PgLogMarks
) -> None:
    config = EventStoreConfig(key_prefix=f"test:{uuid.uuid4().hex}:", reserve_block=10)
    first = await _write(client, config, marks, 5, close=True)

    second = await RedisEventStore(client, config, marks=marks).open(new_epoch=True)

    assert await marks.get(config.key_prefix, first.epoch) is None
    assert await marks.get(config.key_prefix, second.epoch) == LogMark(reserved=10, stored=0)
