"""Ports for the event log's persisted history and for detector snapshots."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.domain.shards import shard_of
from tickstock_server.domain.snapshot import SymbolSnapshot


@dataclass(frozen=True, slots=True)
class SkippedRange:
    """Seqs `from_seq..to_seq` (inclusive) a writer skipped when it restarted after a crash.

    The crashed writer had reserved them and none is stored: it may have handed some out (and lost them),
    and never issued the others. How many events they held is unknown; at most their number.
    """

    from_seq: int
    to_seq: int


class EventHistory(Protocol):
    """The persisted part of the event log (RedisEventStore), read for replays older than memory.

    Every method raises DependencyUnavailableError when the store is unreachable.
    """

    async def read(self, after_seq: int, until_seq: int, limit: int) -> list[LogEntry]:
        """Up to `limit` entries with `after_seq < seq <= until_seq` in order; may have holes."""
        ...

    async def oldest_seq(self) -> int | None:
        """The seq of the oldest entry still stored, None when none is: below it, history was trimmed."""
        ...

    async def skipped_ranges(self, from_seq: int, to_seq: int) -> list[SkippedRange]:
        """The ranges restarts skipped that overlap `from_seq..to_seq`, in seq order."""
        ...


@dataclass(frozen=True, slots=True)
class LogPoint:
    """A position in the event log: its epoch and a seq."""

    epoch: str
    seq: int


@dataclass(frozen=True, slots=True)
class SnapshotView:
    """Per-symbol detector state as of a log position."""

    symbols: list[SymbolSnapshot]
    """Symbols that have seen a tick, sorted by symbol."""
    as_of: LogPoint | None
    """The log position the state reflects; None: the log's end at the moment the view was taken (the
    detectors run in this process and the view is taken without yielding to the event loop). With
    several ingest shards, the lowest of their positions."""
    shard_seqs: tuple[int, ...] = ()
    """With several ingest shards, the position each shard's part reflects, by shard index (0 for a
    shard that was not asked: none of its symbols was wanted); empty with one."""

    def reflects(self, seq: int, symbol: str) -> bool:
        """Whether the state already reflects the log entry `seq` of `symbol`."""
        if self.shard_seqs:
            return seq <= self.shard_seqs[shard_of(symbol, len(self.shard_seqs))]
        return self.as_of is None or seq <= self.as_of.seq


class SnapshotSource(Protocol):
    """Per-symbol detector state: of the engine in this process, or as the ingest process published it."""

    async def snapshot(self, symbols: Iterable[str] | None = None) -> SnapshotView:
        """State of `symbols` (all when None) that have seen a tick.

        Raises DependencyUnavailableError when the state is kept elsewhere and cannot be read.
        """
        ...


@dataclass(frozen=True, slots=True)
class LogMark:
    """What the durable record says of one epoch of the event log."""

    reserved: int
    """No seq above it was handed out (the log may continue after it)."""
    stored: int
    """The stream was confirmed to hold every stored entry up to here: a stream that ends before it lost
    entries, and its seqs may have named other events before."""


class LogMarks(Protocol):
    """A durable high-water mark of the event log, kept outside Redis (PostgreSQL), one per key prefix."""

    async def get(self, key_prefix: str, epoch: str) -> LogMark | None:
        """The mark of `epoch`, or None when none was recorded."""
        ...

    async def start(self, key_prefix: str, epoch: str, reserved: int) -> None:
        """Record a new epoch (its marks at `reserved` and 0) and forget the prefix's other epochs."""
        ...

    async def advance(self, key_prefix: str, epoch: str, *, reserved: int, stored: int) -> None:
        """Raise the marks of `epoch` to at least `reserved` and `stored` (never lowers them)."""
        ...

    async def end(self, key_prefix: str, epoch: str, last_seq: int) -> None:
        """Record a clean end: both marks become exactly `last_seq`, the log's last seq."""
        ...
