"""The behaviour every EventHistory must have, run against each implementation (memory and Redis).

Subclasses provide a `stored` fixture: a factory that persists entries and skipped ranges and returns the
history that reads them; pytest collects the inherited tests for each of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from event_factories import TS_NS, make_event

from tickstock_server.delivery.event_log import EventLog
from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.ports.events import EventHistory, SkippedRange

StoredHistory = Callable[[Sequence[LogEntry], Sequence[SkippedRange]], Awaitable[EventHistory]]
"""Persists entries (seqs from 1, with any holes) and skipped ranges; returns the history reading them."""


def entries(count: int) -> list[LogEntry]:
    """`count` log entries with seqs 1..count."""
    log = EventLog(lambda event, seq, ingest, detect: f"event-{seq}".encode(), capacity=count)
    return log.append(
        [make_event(price=100 + i) for i in range(count)], ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS
    )


class EventHistoryContract:
    """Tests of the EventHistory port."""

    async def test_read_returns_the_stored_entries_of_the_range_in_order(self, stored: StoredHistory) -> None:
        # Arrange
        written = entries(20)
        history = await stored(written[:6] + written[9:], [])

        # Act
        read = await history.read(4, 12, limit=100)

        # Assert: 7..9 were never stored
        assert read == written[4:6] + written[9:12]
        assert await history.read(0, 20, limit=3) == written[:3]

    async def test_oldest_seq_is_the_lowest_stored_seq(self, stored: StoredHistory) -> None:
        # Arrange
        history = await stored(entries(20)[9:], [])

        # Act
        oldest = await history.oldest_seq()

        # Assert
        assert oldest == 10

    async def test_oldest_seq_of_an_empty_history_is_none(self, stored: StoredHistory) -> None:
        # Arrange
        history = await stored([], [])

        # Act
        oldest = await history.oldest_seq()

        # Assert
        assert oldest is None

    async def test_skipped_ranges_are_those_overlapping_the_range_in_seq_order(
        self, stored: StoredHistory
    ) -> None:
        # Arrange
        skipped = [SkippedRange(50, 60), SkippedRange(7, 9), SkippedRange(100, 200)]
        history = await stored(entries(6), skipped)

        # Act
        overlapping = await history.skipped_ranges(9, 55)

        # Assert
        assert overlapping == [SkippedRange(7, 9), SkippedRange(50, 60)]
        assert await history.skipped_ranges(10, 49) == []
