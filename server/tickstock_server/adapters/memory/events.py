"""In-memory fake of the event history port, behaving like the Redis event stream."""

from __future__ import annotations

from collections.abc import Iterable

from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.ports.events import SkippedRange


class MemoryEventHistory:
    """`EventHistory` holding the entries it is given (with any holes), like a persisted event log."""

    def __init__(self, entries: Iterable[LogEntry] = ()) -> None:
        self._entries = {entry.seq: entry for entry in entries}
        self._skipped: list[SkippedRange] = []

    def add(self, entries: Iterable[LogEntry]) -> None:
        """Persist entries."""
        self._entries.update((entry.seq, entry) for entry in entries)

    def skip(self, from_seq: int, to_seq: int) -> None:
        """Record seqs a restart skipped, as the writer does when it continues after a crash."""
        self._skipped.append(SkippedRange(from_seq, to_seq))

    async def read(self, after_seq: int, until_seq: int, limit: int) -> list[LogEntry]:
        """Stored entries with after_seq < seq <= until_seq, in order, at most `limit`."""
        seqs = sorted(seq for seq in self._entries if after_seq < seq <= until_seq)[:limit]
        return [self._entries[seq] for seq in seqs]

    async def oldest_seq(self) -> int | None:
        """The lowest stored seq, None when nothing is stored."""
        return min(self._entries, default=None)

    async def skipped_ranges(self, from_seq: int, to_seq: int) -> list[SkippedRange]:
        """Recorded skipped ranges that overlap `from_seq..to_seq`, in seq order."""
        overlapping = (r for r in self._skipped if r.from_seq <= to_seq and r.to_seq >= from_seq)
        return sorted(overlapping, key=lambda r: r.from_seq)
