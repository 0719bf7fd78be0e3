"""A gap's reason and count depend on the missing range and the store, never on the client's resume token."""

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


async def _gaps(log: EventLog, history: MemoryEventHistory, after: int, until: int) -> list[Gap]:
    return [item async for item in replay(log, history, after, until, chunk=4) if isinstance(item, Gap)]


async def test_two_tokens_before_a_hole_inside_the_store_get_the_same_reason() -> None:
    # Arrange: the store holds 1..6 and 10..20 (7..9 never written), memory 16..20
    log, entries = _log(capacity=5, count=20)
    history = MemoryEventHistory(entries[:6] + entries[9:])

    # Act: one client resumes before the stored entries, the other inside the hole
    from_start = await _gaps(log, history, 0, 20)
    from_inside = await _gaps(log, history, 7, 20)

    # Assert
    assert from_start == [Gap(7, 9, GapReason.NOT_PERSISTED)]
    assert from_inside == [Gap(8, 9, GapReason.NOT_PERSISTED)]


async def test_two_tokens_before_a_hole_after_the_store_get_the_same_reason() -> None:
    # Arrange: the store lags: it holds 1..10, memory 16..20, so 11..15 are nowhere
    log, entries = _log(capacity=5, count=20)
    history = MemoryEventHistory(entries[:10])

    # Act
    from_start = await _gaps(log, history, 0, 20)
    from_inside = await _gaps(log, history, 12, 20)

    # Assert
    assert from_start == [Gap(11, 15, GapReason.NOT_PERSISTED)]
    assert from_inside == [Gap(13, 15, GapReason.NOT_PERSISTED)]


async def test_a_range_below_the_oldest_stored_entry_is_aged_out_from_any_token() -> None:
    # Arrange: the store was trimmed to 10..20
    log, entries = _log(capacity=5, count=20)
    history = MemoryEventHistory(entries[9:])

    # Act
    gaps = [await _gaps(log, history, after, 20) for after in (0, 5)]

    # Assert
    assert gaps == [[Gap(1, 9, GapReason.AGED_OUT)], [Gap(6, 9, GapReason.AGED_OUT)]]


async def test_a_hole_a_restart_skipped_is_not_persisted_with_an_upper_bound_count() -> None:
    # Arrange: a crashed writer had reserved up to 9; the restarted one went on at 10
    log, entries = _log(capacity=5, count=20)
    history = MemoryEventHistory(entries[:6] + entries[9:])
    history.skip(7, 9)

    # Act
    gaps = [await _gaps(log, history, after, 20) for after in (0, 7)]

    # Assert
    assert gaps == [
        [Gap(7, 9, GapReason.NOT_PERSISTED, count_is_upper_bound=True)],
        [Gap(8, 9, GapReason.NOT_PERSISTED, count_is_upper_bound=True)],
    ]


async def test_an_aged_out_range_around_a_skipped_range_is_split_at_its_bounds() -> None:
    # Arrange: 1..2 were stored and trimmed, 3..5 skipped by a restart, 6..9 stored and trimmed
    log, entries = _log(capacity=5, count=20)
    history = MemoryEventHistory(entries[9:])
    history.skip(3, 5)

    # Act
    gaps = await _gaps(log, history, 0, 20)

    # Assert: only the skipped part's count may include seqs that were never issued
    assert gaps == [
        Gap(1, 2, GapReason.AGED_OUT),
        Gap(3, 5, GapReason.NOT_PERSISTED, count_is_upper_bound=True),
        Gap(6, 9, GapReason.AGED_OUT),
    ]
