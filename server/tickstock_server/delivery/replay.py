"""Replays a range of the event log: from memory while the ring holds it, else from the event store.

Every sequence number of the range comes out exactly once, as an entry or inside a `Gap`: a loss is
always explicit, never a silent hole. A gap's reason and count depend only on the missing range and on the
store, never on where the client's replay started, so every client is told the same about the same seqs.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tickstock_server.delivery.event_log import EventLog
from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.ports.events import EventHistory
from tickstock_server.support.metric_samples import MetricSample, counter


class GapReason(enum.Enum):
    """Why a range of the log cannot be replayed."""

    AGED_OUT = "aged_out"
    """Older than the ring and the event store keep: below the oldest entry the store still holds."""
    EPOCH_CHANGED = "epoch_changed"
    """The resume token belongs to an event log that no longer exists."""
    NOT_PERSISTED = "not_persisted"
    """Never written to the event store (Redis unreachable, or a crash) and no longer in memory: a hole
    above the oldest entry the store holds, or seqs a restart skipped."""
    REPLAY_LIMIT = "replay_limit"
    """Older than the newest `max_replay_events` entries before the stream's start: not replayed."""


@dataclass(frozen=True, slots=True)
class Gap:
    """Sequence numbers `from_seq..to_seq` (inclusive) that cannot be replayed."""

    from_seq: int
    to_seq: int
    reason: GapReason
    count_is_upper_bound: bool = False
    """Whether some seqs of the range may never have been issued (a restart skipped them after a crash),
    so `count` is the most entries that were missed, not their exact number."""

    @property
    def count(self) -> int:
        """Log entries in the range (of every symbol and type); see `count_is_upper_bound`."""
        return self.to_seq - self.from_seq + 1


class GapCounter:
    """Gap notices sent to clients, by reason; `Instrumented` for the metrics collector."""

    def __init__(self) -> None:
        self.by_reason = dict.fromkeys(GapReason, 0)
        """Notices sent, by reason (every reason present, from 0)."""

    def counted(self, gap: Gap) -> Gap:
        """Count `gap` as sent; return it."""
        self.by_reason[gap.reason] += 1
        return gap

    def metric_samples(self) -> list[MetricSample]:
        """Gap notices by reason."""
        return [
            counter(
                "tickstock_gaps_reported",
                "Gap notices sent on event streams, by reason: aged_out, epoch_changed, not_persisted or "
                "replay_limit (a resume that cannot be replayed in full).",
                count,
                reason=reason.value,
            )
            for reason, count in self.by_reason.items()
        ]


async def replay(
    log: EventLog, history: EventHistory | None, after_seq: int, until_seq: int, *, chunk: int = 500
) -> AsyncIterator[list[LogEntry] | Gap]:
    """Yield the entries with `after_seq < seq <= until_seq` in order, in chunks, and gaps where missing.

    Memory is read first; only the part older than the ring comes from `history` (which may raise
    DependencyUnavailableError: the caller fails the stream and the client retries later, losing nothing).
    """
    position = after_seq
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
                for gap in await _gaps(history, position + 1, end):
                    yield gap
                position = end
            continue
        for part in _contiguous_parts(stored):
            if part[0].seq > position + 1:
                for gap in await _gaps(history, position + 1, part[0].seq - 1):
                    yield gap
            yield part
            position = part[-1].seq


async def _gaps(history: EventHistory | None, from_seq: int, to_seq: int) -> list[Gap]:
    """The gaps of a hole `from_seq..to_seq` that neither memory nor the store holds.

    The parts a restart skipped are NOT_PERSISTED with an upper-bound count. The rest is AGED_OUT below
    the oldest entry the store holds (history trimmed by age or size) and NOT_PERSISTED above it (never
    written): no stored entry lies inside a hole, so a part is wholly below or wholly above it.
    """
    if history is None:
        return [Gap(from_seq, to_seq, GapReason.AGED_OUT)]
    oldest = await history.oldest_seq()
    skipped = await history.skipped_ranges(from_seq, to_seq)
    gaps: list[Gap] = []
    position = from_seq
    for skip in skipped:
        start, end = max(skip.from_seq, position), min(skip.to_seq, to_seq)
        if start > end:
            continue  # overlaps a range already reported
        if start > position:
            gaps.append(_unskipped(position, start - 1, oldest))
        gaps.append(Gap(start, end, GapReason.NOT_PERSISTED, count_is_upper_bound=True))
        position = end + 1
    if position <= to_seq:
        gaps.append(_unskipped(position, to_seq, oldest))
    return gaps


def _unskipped(from_seq: int, to_seq: int, oldest: int | None) -> Gap:
    aged_out = oldest is None or to_seq < oldest
    return Gap(from_seq, to_seq, GapReason.AGED_OUT if aged_out else GapReason.NOT_PERSISTED)


def _contiguous_parts(entries: list[LogEntry]) -> list[list[LogEntry]]:
    parts: list[list[LogEntry]] = [[entries[0]]]
    for entry in entries[1:]:
        if entry.seq == parts[-1][-1].seq + 1:
            parts[-1].append(entry)
        else:
            parts.append([entry])
    return parts
