"""Ports for the event log's persisted history and for detector snapshots."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.domain.snapshot import SymbolSnapshot


class EventHistory(Protocol):
    """The persisted part of the event log (RedisEventStore), read for replays older than memory."""

    async def read(self, after_seq: int, until_seq: int, limit: int) -> list[LogEntry]:
        """Up to `limit` entries with `after_seq < seq <= until_seq` in order; may have holes.

        Raises DependencyUnavailableError when the store is unreachable.
        """
        ...


class SnapshotSource(Protocol):
    """Current per-symbol detector state (DetectionEngine)."""

    def snapshot(self, symbols: Iterable[str] | None = None) -> list[SymbolSnapshot]:
        """State of `symbols` (all when None) that have seen a tick, sorted by symbol."""
        ...
