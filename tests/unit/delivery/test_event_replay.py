"""Replay of a log range: memory first, then the event store, with every missing seq inside a gap."""

from __future__ import annotations

from event_factories import TS_NS, make_event

from tickstock_server.adapters.memory.events import MemoryEventHistory
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.replay import Gap, GapReason, replay
from tickstock_server.domain.log_entry import LogEntry


def _log(capacity: int, count: int) -> tuple[EventLog, list[LogEntry]]:
    log = EventLog(lambda event, seq, ingest, detect: str(seq).encode(), capacity=capacity)
    entries = log.append(
        [make_event(price=100 + i) for i in range(count)], ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS
    )
    return log, entries


async def _collect(log: EventLog, history: MemoryEventHistory | None, after: int, until: int) -> list[object]:
    out: list[object] = []
    async for item in replay(log, history, after, until, chunk=4):
        out.extend(item if isinstance(item, list) else [item])
    return out


def _seqs(items: list[object]) -> list[int | Gap]:
    return [item.seq if isinstance(item, LogEntry) else item for item in items]  # type: ignore[misc]


async def test_range_in_memory_replays_from_the_ring_only() -> None:
    log, _ = _log(capacity=100, count=10)

    items = await _collect(log, None, 3, 10)

    assert _seqs(items) == [4, 5, 6, 7, 8, 9, 10]


async def test_older_part_comes_from_the_store_then_memory() -> None:
    log, entries = _log(capacity=5, count=20)  # memory holds 16..20
    history = MemoryEventHistory(entries)

    items = await _collect(log, history, 2, 20)

    assert _seqs(items) == list(range(3, 21))


async def test_history_older_than_the_store_is_an_aged_out_gap() -> None:
    log, entries = _log(capacity=5, count=20)
    history = MemoryEventHistory(entries[9:])  # the store was trimmed to 10..20

    items = await _collect(log, history, 2, 20)

    assert _seqs(items) == [Gap(3, 9, GapReason.AGED_OUT), *range(10, 21)]


async def test_hole_inside_the_store_is_a_not_persisted_gap() -> None:
    log, entries = _log(capacity=5, count=20)
    history = MemoryEventHistory(entries[:6] + entries[9:])  # 7..9 never written

    items = await _collect(log, history, 0, 20)

    assert _seqs(items) == [1, 2, 3, 4, 5, 6, Gap(7, 9, GapReason.NOT_PERSISTED), *range(10, 21)]


async def test_store_behind_memory_yields_a_gap_up_to_the_ring() -> None:
    log, entries = _log(capacity=5, count=20)
    history = MemoryEventHistory(entries[:10])  # the store lags: 11..15 neither stored nor in memory

    items = await _collect(log, history, 0, 20)

    assert _seqs(items) == [*range(1, 11), Gap(11, 15, GapReason.NOT_PERSISTED), *range(16, 21)]


async def test_without_a_store_everything_older_than_memory_is_aged_out() -> None:
    log, _ = _log(capacity=5, count=20)

    items = await _collect(log, None, 0, 20)

    assert _seqs(items) == [Gap(1, 15, GapReason.AGED_OUT), *range(16, 21)]
    assert Gap(1, 15, GapReason.AGED_OUT).count == 15


async def test_empty_range_yields_nothing() -> None:
    log, _ = _log(capacity=5, count=20)

    assert await _collect(log, None, 20, 20) == []
