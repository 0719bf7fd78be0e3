"""In-memory fake of the event history port, behaving like the Redis event stream."""

from __future__ import annotations

from collections.abc import Iterable

from tickstock_server.domain.log_entry import LogEntry


class MemoryEventHistory:
    """`EventHistory` holding the entries it is given (with any holes), like a persisted event log."""

    def __init__(self, entries: Iterable[LogEntry] = ()) -> None:
        self._entries = {entry.seq: entry for entry in entries}

    def add(self, entries: Iterable[LogEntry]) -> None:
        """Persist entries."""
        self._entries.update((entry.seq, entry) for entry in entries)

    async def read(self, after_seq: int, until_seq: int, limit: int) -> list[LogEntry]:
        """Stored entries with after_seq < seq <= until_seq, in order, at most `limit`."""
        seqs = sorted(seq for seq in self._entries if after_seq < seq <= until_seq)[:limit]
        return [self._entries[seq] for seq in seqs]
