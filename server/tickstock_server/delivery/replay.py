"""Replays a range of the event log: from memory while the ring holds it, else from the event store.

Every sequence number of the range comes out exactly once, as an entry or inside a `Gap`: a loss is
always explicit, never a silent hole.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tickstock_server.delivery.event_log import EventLog
from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.ports.events import EventHistory


class GapReason(enum.Enum):
    """Why a range of the log cannot be replayed."""

    AGED_OUT = "aged_out"
    """Older than the ring and the event store keep."""
    EPOCH_CHANGED = "epoch_changed"
    """The resume token belongs to an event log that no longer exists."""
    NOT_PERSISTED = "not_persisted"
    """Never written to the event store (Redis unreachable, or a crash) and no longer in memory."""
    REPLAY_LIMIT = "replay_limit"
    """Older than the newest `max_replay_events` entries before the stream's start: not replayed."""


@dataclass(frozen=True, slots=True)
class Gap:
    """Sequence numbers `from_seq..to_seq` (inclusive) that cannot be replayed."""

    from_seq: int
    to_seq: int
    reason: GapReason

    @property
    def count(self) -> int:
        """Log entries in the range (of every symbol and type)."""
        return self.to_seq - self.from_seq + 1


async def replay(
    log: EventLog, history: EventHistory | None, after_seq: int, until_seq: int, *, chunk: int = 500
) -> AsyncIterator[list[LogEntry] | Gap]:
    """Yield the entries with `after_seq < seq <= until_seq` in order, in chunks, and gaps where missing.

    Memory is read first; only the part older than the ring comes from `history` (which may raise
    DependencyUnavailableError: the caller fails the stream and the client retries later, losing nothing).
    """
    position = after_seq
    read_from_store = False
    while position < until_seq:
        entries = log.read(position, until_seq, chunk)
        if entries:
            yield entries
            position = entries[-1].seq
            continue
        stored = await history.read(position, until_seq, chunk) if history is not None else []
        if not stored:
            # Neither memory nor the store has position + 1: missing up to what memory holds now.
            end = min(until_seq, log.oldest_seq - 1)
            if end > position:
                yield Gap(position + 1, end, _reason(read_from_store))
                position = end
            continue
        read_from_store = True
        for part in _contiguous_parts(stored):
            if part[0].seq > position + 1:
                yield Gap(position + 1, part[0].seq - 1, _reason(position > after_seq))
            yield part
            position = part[-1].seq


def _reason(after_stored_entries: bool) -> GapReason:
    # A hole before anything the store returned is history trimmed by age or size; a hole after entries
    # it did return was never written.
    return GapReason.NOT_PERSISTED if after_stored_entries else GapReason.AGED_OUT


def _contiguous_parts(entries: list[LogEntry]) -> list[list[LogEntry]]:
    parts: list[list[LogEntry]] = [[entries[0]]]
    for entry in entries[1:]:
        if entry.seq == parts[-1][-1].seq + 1:
            parts[-1].append(entry)
        else:
            parts.append([entry])
    return parts
