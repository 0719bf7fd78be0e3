"""ShardEventStore against real Redis and PostgreSQL: shards' entries in one order, crashes, restarts."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
import redis.asyncio as aioredis
from event_factories import TS_NS, make_event

from tickstock.v1 import events_pb2
from tickstock_server.api.mappers.events import encode_event
from tickstock_server.bus.event_stream import EventStoreConfig, RedisEventStore
from tickstock_server.bus.shard_store import ShardEventStore
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.domain.shards import Shard
from tickstock_server.ports.events import SkippedRange
from tickstock_server.storage.log_marks import PgLogMarks
from tickstock_server.storage.migrate import apply_migrations


@pytest.fixture
async def marks(pg_pool: asyncpg.Pool) -> PgLogMarks:
    await apply_migrations(pg_pool)
    return PgLogMarks(pg_pool)


@pytest.fixture
def config() -> EventStoreConfig:
    return EventStoreConfig(key_prefix=f"test:{uuid.uuid4().hex}:", reserve_block=100, batch_size=7)


class _Shard:
    """One shard's log and store, as the ingest process holds them."""

    def __init__(self, store: ShardEventStore) -> None:
        self.store = store
        self.log = EventLog(encode_event, capacity=100)
        self.task: asyncio.Task[None] | None = None

    async def detect(self, symbol: str, count: int) -> list[LogEntry]:
        await self.store.reserve_ordinals(count)
        entries = self.log.append(
            [make_event(symbol, price=100 + i) for i in range(count)], ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS
        )
        self.store.add(entries)
        return entries

    def start(self) -> None:
        self.task = asyncio.create_task(self.store.run())

    async def written(self) -> int:
        """The log position once everything issued is stored."""
        return (await self.store.quiescent_point(timeout_s=10)).seq

    async def crash(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task

    async def stop(self) -> None:
        assert self.task is not None
        self.store.close()
        await self.task


async def _open(
    client: aioredis.Redis,
    config: EventStoreConfig,
    marks: PgLogMarks,
    index: int,
    *,
    replays_history: bool = False,
) -> _Shard:
    shard = _Shard(
        ShardEventStore(
            client, config, Shard(index, 2), replays_history=replays_history, marks=marks,
            ordinal_allowance=50,
        )
    )  # fmt: skip
    await shard.store.open()
    shard.start()
    return shard


async def _stored(client: aioredis.Redis, config: EventStoreConfig, epoch: str) -> list[events_pb2.Event]:
    rows = await client.xrange(f"{config.key_prefix}stream:{epoch}")
    events = []
    for row_id, fields in rows:
        event = events_pb2.Event.FromString(fields[b"e"])
        assert row_id == f"{event.seq}-0".encode()
        events.append(event)
    return events


async def test_two_shards_share_one_gapless_order_with_the_bytes_a_single_writer_encodes(
    client: aioredis.Redis, config: EventStoreConfig, marks: PgLogMarks
) -> None:
    first = await _open(client, config, marks, 0)
    second = await _open(client, config, marks, 1)
    for round_ in range(30):
        await first.detect("AAPL", round_ % 4 + 1)
        await second.detect("MSFT", round_ % 3 + 1)
        await asyncio.sleep(0)
    last = max(await first.written(), await second.written())

    epoch = first.store.epoch
    assert second.store.epoch == epoch
    stored = await _stored(client, config, epoch)
    assert [event.seq for event in stored] == list(range(1, last + 1))
    assert last == sum(r % 4 + 1 for r in range(30)) + sum(r % 3 + 1 for r in range(30))
    assert [e.price for e in stored if e.symbol == "AAPL"] == [
        100 + i for round_ in range(30) for i in range(round_ % 4 + 1)
    ]  # each shard's order is kept
    rows = await client.xrange(f"{config.key_prefix}stream:{epoch}", count=3)
    for _row_id, fields in rows:
        event = events_pb2.Event.FromString(fields[b"e"])
        assert fields[b"e"] == event.SerializeToString()  # canonical: seq first, as encode_event writes
    # Reservations beyond the first 100 seqs went to PostgreSQL before Redis.
    mark = await marks.get(config.key_prefix, epoch)
    assert mark is not None and mark.reserved >= last
    await first.stop()
    await second.stop()


async def test_a_crashed_shard_skips_at_most_its_reserved_ordinals_and_the_gap_is_recorded(
    client: aioredis.Redis, config: EventStoreConfig, marks: PgLogMarks
) -> None:
    first = await _open(client, config, marks, 0)
    await first.detect("AAPL", 10)
    before_crash = await first.written()
    await first.store.reserve_ordinals(30)  # it may detect 30 more, then it dies before appending
    await first.crash()

    restarted = await _open(client, config, marks, 0)
    await restarted.detect("AAPL", 2)
    last = await restarted.written()

    skipped = await restarted.store.skipped_ranges(1, last)
    assert len(skipped) == 1
    hole = skipped[0]
    assert hole.from_seq == before_crash + 1
    assert 30 <= hole.to_seq - before_crash <= 50  # its reservation: at most the ordinal allowance
    assert last == hole.to_seq + 2
    assert restarted.store.skipped_seqs == hole.to_seq - before_crash
    await restarted.stop()


async def test_a_cleanly_stopped_shard_continues_with_no_gap(
    client: aioredis.Redis, config: EventStoreConfig, marks: PgLogMarks
) -> None:
    first = await _open(client, config, marks, 0)
    await first.detect("AAPL", 10)
    await first.stop()

    restarted = await _open(client, config, marks, 0)
    await restarted.detect("AAPL", 3)
    last = await restarted.written()

    assert last == 13
    assert await restarted.store.skipped_ranges(1, last) == []
    await restarted.stop()


async def test_a_restarted_replay_shard_leaves_out_what_the_stream_already_has(
    client: aioredis.Redis, config: EventStoreConfig, marks: PgLogMarks
) -> None:
    first = await _open(client, config, marks, 1, replays_history=True)
    await first.detect("MSFT", 12)
    await first.written()
    await first.crash()

    restarted = await _open(client, config, marks, 1, replays_history=True)
    await restarted.detect("MSFT", 20)  # the replay from its start: the first 12 are stored already
    last = await restarted.written()

    stored = await _stored(client, config, restarted.store.epoch)
    assert [e.price for e in stored] == [100 + i for i in range(12)] + [100 + i for i in range(12, 20)]
    assert last == 20
    assert restarted.store.suppressed == 12
    assert await restarted.store.skipped_ranges(1, last) == []
    await restarted.stop()


async def test_after_a_redis_restart_the_log_skips_to_its_durable_reservation(
    client: aioredis.Redis, config: EventStoreConfig, marks: PgLogMarks
) -> None:
    first = await _open(client, config, marks, 0)
    second = await _open(client, config, marks, 1)
    await first.detect("AAPL", 5)
    stored_before = await first.written()
    epoch = first.store.epoch
    mark = await marks.get(config.key_prefix, epoch)
    assert mark is not None
    # What a Redis restart looks like to the scripts: another server's run id assigned the last seq.
    await client.hset(f"{config.key_prefix}meta", "incarnation", "0" * 40)

    await second.detect("MSFT", 3)
    await first.detect("AAPL", 2)
    last = max(await first.written(), await second.written())

    skipped = await first.store.skipped_ranges(1, last)
    assert skipped == [SkippedRange(stored_before + 1, mark.reserved)]
    assert last == mark.reserved + 5
    assert first.store.skipped_seqs + second.store.skipped_seqs == mark.reserved - stored_before
    await first.stop()
    await second.stop()


async def test_a_shard_count_change_starts_a_new_epoch(
    client: aioredis.Redis, config: EventStoreConfig, marks: PgLogMarks
) -> None:
    first = await _open(client, config, marks, 0)
    await first.detect("AAPL", 3)
    await first.written()
    await first.stop()
    old_epoch = first.store.epoch

    alone = ShardEventStore(client, config, Shard(0, 3), replays_history=False, marks=marks)
    new_epoch = await alone.open()

    assert new_epoch != old_epoch
    assert await client.exists(f"{config.key_prefix}stream:{old_epoch}") == 0


async def test_a_single_writer_after_shards_starts_a_new_epoch_without_the_shards_meta(
    client: aioredis.Redis, config: EventStoreConfig, marks: PgLogMarks
) -> None:
    first = await _open(client, config, marks, 0)
    await first.detect("AAPL", 3)
    await first.written()
    await first.stop()

    single = RedisEventStore(client, config, marks=marks)
    position = await single.open()

    assert position.epoch != first.store.epoch
    assert position.last_seq == 0
    assert await client.hget(f"{config.key_prefix}meta", "shards") is None
