"""`WatchBoard`: what `tickstock watch` shows, kept from the stream's items; no terminal, no clock."""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import datetime

from tickstock_client._models import (
    Direction,
    Dropped,
    Event,
    EventType,
    Gap,
    GapReason,
    HighLowDetails,
    PatternDetails,
    ReplayCompleted,
    ResumeToken,
    StreamItem,
    SurgeDetails,
    TrendDetails,
)

__all__ = ["WatchBoard", "WatchRow", "WatchStatus", "notice_text"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchRow:
    """One symbol: its last event and how many events of each type it had."""

    symbol: str
    type: EventType
    direction: Direction
    price: float
    volume: int
    score: float | None
    """Significance of a high or low, score of a trend or surge, confidence of a pattern."""
    event_time: datetime
    highs: int
    lows: int
    trends: int
    surges: int
    patterns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchStatus:
    """The stream's state and every notice so far, for the status line."""

    connection: str
    """"connecting", "live", "reconnecting", or "ended" once the command stops reading."""
    resume_token: ResumeToken | None
    reconnects: int
    events: int
    symbols: int
    gaps: int
    missed_events: int
    """Log entries the gaps named: the server could not replay them."""
    epoch_changes: int
    """Gaps of unknown size: the resume token's event log is gone, the new one is replayed from its start."""
    drops: int
    dropped_events: int
    """Events the server dropped or coalesced because this client fell behind."""
    replayed_events: int
    last_notice: str
    """The newest notice as text, "" before the first."""


def notice_text(notice: Gap | Dropped | ReplayCompleted) -> str:
    """A notice as one line for people."""
    if isinstance(notice, Gap) and notice.reason is GapReason.EPOCH_CHANGED:
        return "gap: the server's event log started a new epoch; replaying the new one from its start"
    if isinstance(notice, Gap):
        return (
            f"gap: {notice.missed_count} events missed (seq {notice.from_seq}-{notice.to_seq}, "
            f"{notice.reason.value})"
        )
    if isinstance(notice, Dropped):
        return (
            f"dropped: {notice.dropped_count} events (seq {notice.first_dropped_seq}-"
            f"{notice.last_dropped_seq}) because this client fell behind; {notice.total_dropped} in all"
        )
    return f"replay completed: {notice.replayed_count} missed events replayed, live from here"


def _score(event: Event) -> float | None:
    details = event.details
    if isinstance(details, HighLowDetails):
        return details.significance_score
    if isinstance(details, TrendDetails | SurgeDetails):
        return details.score
    if isinstance(details, PatternDetails):
        return details.confidence
    return None


class WatchBoard:
    """The newest event of each symbol, counts by type, and counts of every notice.

    Symbols are kept most recently active first. Beyond `max_symbols` the least recently active one is
    forgotten (its counts start again if it comes back), so a stream of the whole market stays bounded.
    """

    def __init__(self, *, max_symbols: int = 10_000) -> None:
        if max_symbols < 1:
            raise ValueError(f"max_symbols must be at least 1, not {max_symbols}")
        self._max_symbols = max_symbols
        self._last: OrderedDict[str, Event] = OrderedDict()
        self._counts: dict[str, Counter[EventType]] = {}
        self._events = 0
        self._gaps = self._missed = self._epoch_changes = 0
        self._drops = self._dropped = self._replayed = 0
        self._last_notice = ""
        self.version = 0
        """Changes with every item added: a view redraws only when it moved."""

    def add(self, item: StreamItem) -> str | None:
        """Take one item of the stream; a notice comes back as its text, an event as None."""
        self.version += 1
        if isinstance(item, Event):
            self._add_event(item)
            return None
        if isinstance(item, Gap):
            self._gaps += 1
            self._missed += item.missed_count
            self._epoch_changes += item.reason is GapReason.EPOCH_CHANGED
        elif isinstance(item, Dropped):
            self._drops += 1
            self._dropped += item.dropped_count
        else:
            self._replayed += item.replayed_count
        self._last_notice = notice_text(item)
        return self._last_notice

    def _add_event(self, event: Event) -> None:
        self._events += 1
        self._last[event.symbol] = event
        self._last.move_to_end(event.symbol)
        self._counts.setdefault(event.symbol, Counter())[event.type] += 1
        if len(self._last) > self._max_symbols:
            forgotten, _ = self._last.popitem(last=False)
            del self._counts[forgotten]

    def rows(self, limit: int) -> list[WatchRow]:
        """The `limit` most recently active symbols, the most recent first."""
        rows: list[WatchRow] = []
        for symbol in reversed(self._last):
            if len(rows) >= limit:
                break
            event, counts = self._last[symbol], self._counts[symbol]
            rows.append(
                WatchRow(
                    symbol=symbol,
                    type=event.type,
                    direction=event.direction,
                    price=event.price,
                    volume=event.volume,
                    score=_score(event),
                    event_time=event.event_time,
                    highs=counts[EventType.HIGH],
                    lows=counts[EventType.LOW],
                    trends=counts[EventType.TREND],
                    surges=counts[EventType.SURGE],
                    patterns=counts[EventType.PATTERN],
                )
            )
        return rows

    def status(
        self, *, connected: bool, reconnects: int, resume_token: ResumeToken | None, ended: bool = False
    ) -> WatchStatus:
        """The status line's content, with the stream's own state passed in."""
        if ended:
            connection = "ended"
        else:
            connection = "live" if connected else "reconnecting" if reconnects else "connecting"
        return WatchStatus(
            connection=connection,
            resume_token=resume_token,
            reconnects=reconnects,
            events=self._events,
            symbols=len(self._last),
            gaps=self._gaps,
            missed_events=self._missed,
            epoch_changes=self._epoch_changes,
            drops=self._drops,
            dropped_events=self._dropped,
            replayed_events=self._replayed,
            last_notice=self._last_notice,
        )
