"""RedisEventStore against a real Redis: append and read by seq, epoch continuity, reservations, outages."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis
from event_factories import TS_NS, make_event

from tickstock_server.bus.event_stream import EventStoreConfig, LogPosition, RedisEventStore, stream_key
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.errors import DependencyUnavailableError


def _config(**overrides: object) -> EventStoreConfig:
    return EventStoreConfig(key_prefix=f"test:{uuid.uuid4().hex}:", **overrides)  # type: ignore[arg-type]


def _entries(log: EventLog, count: int) -> list[LogEntry]:
    return log.append(
        [make_event(f"S{i % 7}", price=100 + i) for i in range(count)], ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS
    )


def _encode(event: object, seq: int, ingest: int, detect: int) -> bytes:
    return f"event-{seq}".encode()


async def _run_until_written(store: RedisEventStore) -> None:
    task = asyncio.create_task(store.run())
    for _ in range(500):
        if store.pending == 0:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def _write_and_close(client: aioredis.Redis, config: EventStoreConfig, count: int) -> LogPosition:
    """Open a store, write `count` entries and close it cleanly; returns where it opened."""
    store = RedisEventStore(client, config)
    position = await store.open()
    log = EventLog(_encode, capacity=10, epoch=position.epoch, last_seq=position.last_seq)
    store.add(_entries(log, count))
    task = asyncio.create_task(store.run())
    store.close(log.last_seq)
    await task
    return position


async def test_entries_read_back_by_seq_with_their_fields_and_encoding(client: aioredis.Redis) -> None:
    store = RedisEventStore(client, _config())
    position = await store.open()
    log = EventLog(_encode, capacity=10, epoch=position.epoch, last_seq=position.last_seq)
    written = _entries(log, 50)
    store.add(written)
    await _run_until_written(store)

    read = await store.read(10, 20, limit=100)

    assert read == written[10:20]
    assert await store.read(45, 100, limit=3) == written[45:48]
    assert store.appended == 50


async def test_clean_close_continues_the_same_epoch_with_no_gap(client: aioredis.Redis) -> None:
    config = _config()
    position = await _write_and_close(client, config, 30)

    reopened = await RedisEventStore(client, config).open()

    assert reopened.epoch == position.epoch
    assert reopened.last_seq == 30


async def test_restart_without_close_skips_every_reserved_seq(client: aioredis.Redis) -> None:
    config = _config(reserve_block=1000)
    first = RedisEventStore(client, config)
    position = await first.open()
    log = EventLog(_encode, capacity=10, epoch=position.epoch, last_seq=position.last_seq)
    first.add(_entries(log, 30))
    await _run_until_written(first)  # then "crash": no close

    reopened = await RedisEventStore(client, config).open()

    # Seqs up to the reservation may have reached clients: the new process starts after them.
    assert reopened.epoch == position.epoch
    assert reopened.last_seq >= 1000


async def test_missing_meta_starts_a_new_epoch_and_an_empty_stream(client: aioredis.Redis) -> None:
    config = _config()
    first = RedisEventStore(client, config)
    position = await first.open()
    log = EventLog(_encode, capacity=10, epoch=position.epoch)
    first.add(_entries(log, 5))
    await _run_until_written(first)
    await client.delete(config.key_prefix + "meta")

    second = RedisEventStore(client, config)
    reopened = await second.open()

    assert reopened.epoch != position.epoch
    assert reopened.last_seq == 0
    assert await second.read(0, 100, limit=10) == []


async def test_a_new_epoch_on_request_drops_the_stored_entries(client: aioredis.Redis) -> None:
    # A feed that starts its history again (a replay) must not continue the old epoch.
    config = _config()
    position = await _write_and_close(client, config, 30)

    second = RedisEventStore(client, config)
    reopened = await second.open(new_epoch=True)

    assert reopened.epoch != position.epoch
    assert reopened.last_seq == 0
    assert await second.read(0, 100, limit=10) == []
    assert (await RedisEventStore(client, config).open()).epoch == reopened.epoch  # and it is stored


async def test_stream_is_bounded_by_max_entries(client: aioredis.Redis) -> None:
    config = _config(max_entries=1000, batch_size=500)
    store = RedisEventStore(client, config)
    position = await store.open()
    log = EventLog(_encode, capacity=10, epoch=position.epoch)
    store.add(_entries(log, 5000))
    await _run_until_written(store)

    length = await client.xlen(stream_key(config.key_prefix, position.epoch))

    # MAXLEN ~ trims whole radix-tree nodes: at least the bound, and far below what was written.
    assert 1000 <= length < 2500
    assert (await store.read(4999, 5000, limit=1))[0].seq == 5000


async def test_outage_keeps_entries_buffered_and_writes_them_after(
    tmp_path: object, client: aioredis.Redis
) -> None:
    broken = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    store = RedisEventStore(broken, _config())
    log = EventLog(_encode, capacity=10)
    store.add(_entries(log, 10))
    task = asyncio.create_task(store.run())
    for _ in range(200):
        if store.failures >= 2:
            break
        await asyncio.sleep(0.01)

    assert not store.healthy
    assert store.pending == 10
    with pytest.raises(DependencyUnavailableError):
        await store.read(0, 10, limit=10)
    store.close(log.last_seq)
    await asyncio.wait_for(task, 10)
    await broken.aclose()


async def test_buffer_overflow_drops_the_oldest_and_counts_them(client: aioredis.Redis) -> None:
    store = RedisEventStore(client, _config(buffer_capacity=10))
    position = await store.open()
    log = EventLog(_encode, capacity=100, epoch=position.epoch)

    store.add(_entries(log, 25))
    await _run_until_written(store)

    assert store.dropped == 15
    assert [e.seq for e in await store.read(0, 25, limit=100)] == list(range(16, 26))
