"""Gaps against a real Redis: a writer restarted after a crash records the seqs it skips, and every replay,
the writer's own and a gateway's, reports them with an upper-bound count and the same reason."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest
import redis.asyncio as aioredis
from event_factories import TS_NS, make_event
from event_history_contract import EventHistoryContract, StoredHistory
from polling import eventually

from tickstock_server.bus.event_follower import RedisEventFollower
from tickstock_server.bus.event_stream import EventStoreConfig, RedisEventStore
from tickstock_server.bus.stream_history import record_skipped
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.replay import Gap, GapReason, replay
from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.ports.events import EventHistory, SkippedRange


@pytest.fixture
def config() -> EventStoreConfig:
    return EventStoreConfig(key_prefix=f"test:{uuid.uuid4().hex}:", reserve_block=1000)


def _encode(event: object, seq: int, ingest: int, detect: int) -> bytes:
    return f"event-{seq}".encode()


def _append(log: EventLog, count: int) -> list[LogEntry]:
    return log.append(
        [make_event("AAPL", price=100 + i) for i in range(count)], ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS
    )


async def _written(
    store: RedisEventStore, entries: Sequence[LogEntry], *, close_at: int | None = None
) -> None:
    """Write `entries`; then close cleanly at `close_at`, or stop as a crash would (None)."""
    store.add(entries)
    task = asyncio.create_task(store.run())
    await eventually(lambda: store.pending == 0)
    if close_at is None:
        task.cancel()
    else:
        store.close(close_at)
    await asyncio.gather(task, return_exceptions=True)


async def _gaps(log: EventLog, history: EventHistory, after: int, until: int) -> list[Gap]:
    return [item async for item in replay(log, history, after, until) if isinstance(item, Gap)]


class TestRedisEventHistoryContract(EventHistoryContract):
    """The port's contract, on the writer's store and on a gateway's follower."""

    @pytest.fixture(params=["writer", "gateway"])
    def stored(
        self, request: pytest.FixtureRequest, client: aioredis.Redis, config: EventStoreConfig
    ) -> StoredHistory:
        async def store(entries: Sequence[LogEntry], skipped: Sequence[SkippedRange]) -> EventHistory:
            writer = RedisEventStore(client, config)
            position = await writer.open()
            await _written(writer, entries)
            for skip in skipped:
                await record_skipped(client, config.key_prefix, position.epoch, skip.from_seq, skip.to_seq)
            if request.param == "writer":
                return writer
            follower = RedisEventFollower(client, key_prefix=config.key_prefix)
            await follower.open()
            return follower

        return store


async def test_a_restart_after_a_crash_records_the_reserved_seqs_it_skips(
    client: aioredis.Redis, config: EventStoreConfig
) -> None:
    # Arrange: 30 entries stored, seqs reserved up to 1000, then a crash
    crashed = RedisEventStore(client, config)
    position = await crashed.open()
    await _written(crashed, _append(EventLog(_encode, capacity=10, epoch=position.epoch), 30))

    # Act
    restarted = RedisEventStore(client, config)
    reopened = await restarted.open()

    # Assert
    assert reopened.last_seq == 1000
    assert await restarted.skipped_ranges(1, 2000) == [SkippedRange(31, 1000)]


async def test_a_restart_after_a_clean_close_records_no_skipped_seqs(
    client: aioredis.Redis, config: EventStoreConfig
) -> None:
    # Arrange
    closed = RedisEventStore(client, config)
    position = await closed.open()
    await _written(closed, _append(EventLog(_encode, capacity=10, epoch=position.epoch), 30), close_at=30)

    # Act
    restarted = RedisEventStore(client, config)
    reopened = await restarted.open()

    # Assert
    assert reopened.last_seq == 30
    assert await restarted.skipped_ranges(1, 2000) == []


async def test_replays_report_a_crash_skipped_range_with_an_upper_bound_count(
    client: aioredis.Redis, config: EventStoreConfig
) -> None:
    # Arrange: 30 stored, a crash, and the restarted writer's first 5 entries after its skip
    crashed = RedisEventStore(client, config)
    position = await crashed.open()
    await _written(crashed, _append(EventLog(_encode, capacity=10, epoch=position.epoch), 30))
    restarted = RedisEventStore(client, config)
    reopened = await restarted.open()
    writer_log = EventLog(_encode, capacity=2, epoch=reopened.epoch, last_seq=reopened.last_seq)
    await _written(restarted, _append(writer_log, 5))
    gateway = RedisEventFollower(client, key_prefix=config.key_prefix)
    epoch, last_seq = await gateway.open()
    gateway_log = EventLog(_encode, capacity=2, epoch=epoch, last_seq=last_seq)

    # Act: clients resume from two tokens, from the writer and from a gateway
    gaps = [
        await _gaps(log, history, after, 1005)
        for log, history in ((writer_log, restarted), (gateway_log, gateway))
        for after in (0, 20)
    ]

    # Assert: the same range, reason and bound every time
    assert gaps == 4 * [[Gap(31, 1000, GapReason.NOT_PERSISTED, count_is_upper_bound=True)]]
