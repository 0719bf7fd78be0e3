"""The event log: gives every event its sequence number, encodes it once, keeps recent entries in a ring."""

from __future__ import annotations

import itertools
import secrets
from collections import deque
from collections.abc import Iterable

from tickstock_server.domain.events import Event
from tickstock_server.domain.log_entry import EventEncoder, LogEntry, fields_of
from tickstock_server.support.metric_samples import MetricSample, counter, gauge


class EventLog:
    """Appends events with strictly increasing `seq` and keeps the newest `capacity` entries.

    The ring is bounded: when full, the oldest entry is dropped from memory (it is then replayed from the
    event store, when one persists the log). Sequence numbers are contiguous: the ring holds exactly the
    entries `oldest_seq .. last_seq`.
    """

    def __init__(
        self, encode: EventEncoder, *, capacity: int, epoch: str | None = None, last_seq: int = 0
    ) -> None:
        """Create a log.

        Args:
            encode: The wire encoder of events.
            capacity: Entries kept in memory.
            epoch: Identity of the log; a new random one when None.
            last_seq: Sequence number to continue after (a log resumed from its store), 0 for a new log.
        """
        self._encode = encode
        self._ring: deque[LogEntry] = deque(maxlen=capacity)
        self.epoch = epoch or secrets.token_hex(8)
        """Identity of this log; a resume token from another epoch cannot be honoured."""
        self.last_seq = last_seq
        """Sequence number of the newest entry (the starting point before the first)."""
        self.first_seq = last_seq + 1
        """Sequence number of the first entry this process appends."""

    def append(self, events: Iterable[Event], *, ingest_ts_ns: int, detect_ts_ns: int) -> list[LogEntry]:
        """Sequence, encode and store events; return their entries in order."""
        entries = []
        for event in events:
            self.last_seq += 1
            entry = LogEntry(
                self.last_seq,
                fields_of(event),
                ingest_ts_ns,
                self._encode(event, self.last_seq, ingest_ts_ns, detect_ts_ns),
            )
            self._ring.append(entry)
            entries.append(entry)
        return entries

    def adopt(self, entries: Iterable[LogEntry]) -> None:
        """Store entries another process sequenced (a gateway following the event stream), in seq order.

        The ring stays contiguous: an entry after a hole (seqs that were never written) restarts it, so
        reads of the older part go to the event store, which reports the hole as a gap.
        """
        ring = self._ring
        for entry in entries:
            if entry.seq != self.last_seq + 1:
                if entry.seq <= self.last_seq:
                    raise ValueError(f"seq {entry.seq} is not after the log's last seq {self.last_seq}")
                ring.clear()
            ring.append(entry)
            self.last_seq = entry.seq

    def restart(self, epoch: str, last_seq: int) -> None:
        """Follow another epoch of the log from after `last_seq`; the ring starts empty."""
        self._ring.clear()
        self.epoch = epoch
        self.last_seq = last_seq
        self.first_seq = last_seq + 1

    @property
    def oldest_seq(self) -> int:
        """Sequence number of the oldest entry in memory; `last_seq + 1` when the ring is empty."""
        return self._ring[0].seq if self._ring else self.last_seq + 1

    def read(self, after_seq: int, until_seq: int, limit: int) -> list[LogEntry]:
        """Up to `limit` entries with `after_seq < seq <= until_seq` from memory, starting at `after_seq + 1`.

        Returns an empty list when `after_seq + 1` is no longer (or not yet) in memory.
        """
        oldest = self.oldest_seq
        start = after_seq + 1
        if start < oldest or start > min(until_seq, self.last_seq):
            return []
        offset = start - oldest
        stop = min(until_seq, self.last_seq) - oldest + 1
        # Rotating a deque is O(offset / 64); islice from the front keeps this simple and fast enough
        # for a replay, which is rare next to appends.
        return list(itertools.islice(self._ring, offset, min(stop, offset + limit)))

    def metric_samples(self) -> list[MetricSample]:
        """Events sequenced so far, and how full the in-memory ring is."""
        return [
            counter(
                "tickstock_events_logged",
                "Events sequenced into the event log (its last seq).",
                self.last_seq,
            ),
            gauge(
                "tickstock_event_log_entries",
                "Events held in the in-memory ring (resumes within it need no Redis read).",
                len(self._ring),
            ),
            gauge(
                "tickstock_event_log_capacity_entries",
                "Events the in-memory ring holds at most.",
                self._ring.maxlen or 0,
            ),
        ]

    def __len__(self) -> int:
        return len(self._ring)
