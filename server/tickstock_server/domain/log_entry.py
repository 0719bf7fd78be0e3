"""A sequenced event as the log, the hub and the event stream hold it: its filter fields and encoding."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from tickstock_server.domain.events import (
    Event,
    HighLowDetails,
    PatternDetails,
    SurgeDetails,
    SurgeStrength,
    TrendDetails,
    TrendStrength,
)

STRENGTH_RANKS: dict[TrendStrength | SurgeStrength, int] = {
    TrendStrength.WEAK: 0,
    TrendStrength.MODERATE: 1,
    TrendStrength.STRONG: 2,
    SurgeStrength.WEAK: 0,
    SurgeStrength.MODERATE: 1,
    SurgeStrength.STRONG: 2,
}
"""Strength classes as comparable ranks (weak 0, moderate 1, strong 2)."""


class EventFields(NamedTuple):
    """The fields of an event that filters look at: computed once per event, kept with its log entry.

    A small tuple of plain values rather than the domain event: the ring holds two small objects per
    entry, and an entry read back from the Redis Stream can be filtered without decoding its protobuf.
    """

    symbol: str
    type: str
    """`EventType` value, e.g. "high"."""
    direction: str
    """`Direction` value, "up" or "down"."""
    price: float
    volume: int
    score: float
    """What the type's minimum filter compares: significance (0 to 100) of HIGH and LOW, strength rank
    (0 to 2) of TREND and SURGE, confidence (0 to 1) of PATTERN."""


def fields_of(event: Event) -> EventFields:
    """The filterable fields of an event."""
    details = event.details
    score = 0.0
    if isinstance(details, HighLowDetails):
        score = details.significance_score
    elif isinstance(details, TrendDetails | SurgeDetails):
        score = float(STRENGTH_RANKS[details.strength])
    elif isinstance(details, PatternDetails):
        score = details.confidence
    return EventFields(
        event.symbol, event.type.value, event.direction.value, event.price, event.volume, score
    )


class LogEntry(NamedTuple):
    """An event at its position in the log, with its wire encoding."""

    seq: int
    fields: EventFields
    ingest_ts_ns: int
    """Time the server received the tick that produced the event."""
    encoded: bytes
    """The event serialised once (with its seq), shared by every subscriber and the Redis Stream."""


EventEncoder = Callable[[Event, int, int, int], bytes]
"""Encodes (event, seq, ingest_ts_ns, detect_ts_ns) to bytes; injected so this layer stays free of protos."""
