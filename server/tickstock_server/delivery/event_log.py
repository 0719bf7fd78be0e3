"""The event log: gives every event its sequence number, encodes it once, keeps recent entries in a ring."""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tickstock_server.domain.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEntry:
    """An event at its position in the log, with its wire encoding."""

    seq: int
    event: Event
    ingest_ts_ns: int
    """Time the server received the tick that produced the event."""
    detect_ts_ns: int
    """Time the detector emitted the event."""
    encoded: bytes
    """The event serialised once, shared by every subscriber."""


EventEncoder = Callable[[Event, int, int, int], bytes]
"""Encodes (event, seq, ingest_ts_ns, detect_ts_ns) to bytes; injected so this layer stays free of protos."""


class EventLog:
    """Appends events with strictly increasing `seq` and keeps the newest `capacity` entries.

    The ring is bounded: when full, the oldest entry is dropped (it can then no longer be replayed).
    """

    def __init__(self, encode: EventEncoder, *, capacity: int, epoch: str | None = None) -> None:
        self._encode = encode
        self._ring: deque[LogEntry] = deque(maxlen=capacity)
        self.epoch = epoch or secrets.token_hex(8)
        """Identity of this log; a resume token from another epoch cannot be honoured."""
        self.last_seq = 0
        """Sequence number of the newest entry (0 before the first)."""

    def append(self, events: Iterable[Event], *, ingest_ts_ns: int, detect_ts_ns: int) -> list[LogEntry]:
        """Sequence, encode and store events; return their entries in order."""
        entries = []
        for event in events:
            self.last_seq += 1
            entry = LogEntry(
                seq=self.last_seq,
                event=event,
                ingest_ts_ns=ingest_ts_ns,
                detect_ts_ns=detect_ts_ns,
                encoded=self._encode(event, self.last_seq, ingest_ts_ns, detect_ts_ns),
            )
            self._ring.append(entry)
            entries.append(entry)
        return entries

    def __len__(self) -> int:
        return len(self._ring)
