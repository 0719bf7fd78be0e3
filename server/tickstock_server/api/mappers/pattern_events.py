"""PATTERN events of the event stream back to patterns: how a gateway takes the ingest's fallback patterns.

The inverse of `domain.pattern_events.pattern_event` for what a pattern's event carries: a price of 0
is a pattern without a price.
"""

from __future__ import annotations

from google.protobuf import timestamp_pb2
from google.protobuf.message import DecodeError

from tickstock.v1 import events_pb2
from tickstock_server.api.mappers.events import TIMEFRAMES
from tickstock_server.domain.patterns import Pattern, PatternIndicators, PatternSource
from tickstock_server.support.time_units import NS_PER_S

_TIMEFRAMES_FROM_PROTO = {proto: domain for domain, proto in TIMEFRAMES.items()}


def _ns(timestamp: timestamp_pb2.Timestamp) -> int:
    return timestamp.seconds * NS_PER_S + timestamp.nanos


def fallback_pattern_from_event(encoded: bytes) -> Pattern | None:
    """The pattern of an encoded PATTERN event whose source is FALLBACK; None for any other event.

    An entry that does not decode (written by another version) is no fallback pattern either.
    """
    event = events_pb2.Event()
    try:
        event.ParseFromString(encoded)
    except DecodeError:
        return None
    if event.type != events_pb2.EVENT_TYPE_PATTERN or not event.HasField("pattern"):
        return None
    details = event.pattern
    if details.source != events_pb2.PATTERN_SOURCE_FALLBACK:
        return None
    indicators = details.indicators
    return Pattern(
        pattern_id=details.pattern_id,
        symbol=event.symbol,
        pattern_type=details.pattern_type,
        confidence=details.confidence,
        price=event.price or None,
        price_change_pct=details.price_change,
        detected_ns=_ns(event.event_time),
        expires_ns=_ns(details.expire_time),
        timeframe=_TIMEFRAMES_FROM_PROTO.get(details.timeframe),
        source=PatternSource.FALLBACK,
        indicators=PatternIndicators(
            relative_strength=(
                indicators.relative_strength if indicators.HasField("relative_strength") else None
            ),
            relative_volume=indicators.relative_volume if indicators.HasField("relative_volume") else None,
            rsi=indicators.rsi if indicators.HasField("rsi") else None,
        ),
        flow_id=details.flow_id,
    )
