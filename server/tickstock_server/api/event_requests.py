"""Validates `StreamEventsRequest` and converts it to a domain filter and delivery options."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import duration_pb2

from tickstock.v1 import event_service_pb2, events_pb2
from tickstock_server.api.mappers import (
    DIRECTIONS,
    EVENT_TYPES,
    SURGE_STRENGTHS_FROM_PROTO,
    TREND_STRENGTHS_FROM_PROTO,
)
from tickstock_server.delivery.filters import EventFilter
from tickstock_server.delivery.hub import DeliveryOptions
from tickstock_server.domain.universes import SYMBOL_PATTERN
from tickstock_server.errors import FieldViolation, InvalidRequestError, NotSupportedError

_EVENT_TYPES = {proto: domain for domain, proto in EVENT_TYPES.items()}
_DIRECTIONS = {proto: domain for domain, proto in DIRECTIONS.items()}

DEFAULT_BATCH_SIZE = 100
MAX_BATCH_SIZE = 1000
DEFAULT_BATCH_LATENCY_S = 0.020
MAX_BATCH_LATENCY_S = 1.0
DEFAULT_HEARTBEAT_S = 15.0
MIN_HEARTBEAT_S = 1.0
MAX_HEARTBEAT_S = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamRequest:
    """A validated stream request."""

    filter: EventFilter
    options: DeliveryOptions


def _seconds(duration: duration_pb2.Duration) -> float:
    return duration.seconds + duration.nanos / 1e9


def parse_stream_request(
    request: event_service_pb2.StreamEventsRequest, *, max_symbols: int
) -> StreamRequest:
    """Validate the request; raise InvalidRequestError listing every bad field, or NotSupportedError."""
    _reject_unsupported(request)
    violations: list[FieldViolation] = []
    event_filter = _parse_filter(request.filter, max_symbols, violations)
    options = _parse_delivery(request.delivery, violations)
    if violations:
        raise InvalidRequestError(violations)
    return StreamRequest(filter=event_filter, options=options)


def _reject_unsupported(request: event_service_pb2.StreamEventsRequest) -> None:
    # Said plainly rather than ignored: a client relying on these must know it does not get them.
    unsupported = []
    if request.filter.universes:
        unsupported.append("filter.universes")
    if request.filter.watchlist_ids:
        unsupported.append("filter.watchlist_ids")
    if request.preset_name:
        unsupported.append("preset_name")
    if request.HasField("resume_token"):
        unsupported.append("resume_token")
    if request.include_snapshot:
        unsupported.append("include_snapshot")
    if request.delivery.slow_consumer_policy == event_service_pb2.SLOW_CONSUMER_POLICY_CONFLATE:
        unsupported.append("delivery.slow_consumer_policy=CONFLATE")
    if unsupported:
        raise NotSupportedError(f"not supported by this server version yet: {', '.join(unsupported)}")


def _parse_filter(
    proto: event_service_pb2.EventFilter, max_symbols: int, violations: list[FieldViolation]
) -> EventFilter:
    symbols = set()
    for index, raw in enumerate(proto.symbols):
        symbol = raw.strip().upper()
        if SYMBOL_PATTERN.fullmatch(symbol):
            symbols.add(symbol)
        else:
            violations.append(FieldViolation(f"filter.symbols[{index}]", f"{raw!r} is not a ticker symbol"))
    if len(symbols) > max_symbols:
        violations.append(FieldViolation("filter.symbols", f"at most {max_symbols} symbols per subscription"))
    event_types = set()
    for index, event_type in enumerate(proto.event_types):
        if event_type in _EVENT_TYPES:
            event_types.add(_EVENT_TYPES[event_type])
        else:
            violations.append(FieldViolation(f"filter.event_types[{index}]", "must be a specific event type"))
    directions = set()
    for index, direction in enumerate(proto.directions):
        if direction in _DIRECTIONS:
            directions.add(_DIRECTIONS[direction])
        else:
            violations.append(FieldViolation(f"filter.directions[{index}]", "must be UP or DOWN"))
    min_significance = proto.min_significance if proto.HasField("min_significance") else None
    if min_significance is not None and not 0 <= min_significance <= 100:
        violations.append(FieldViolation("filter.min_significance", "must be between 0 and 100"))
    min_trend_strength = None
    if proto.min_trend_strength != events_pb2.TREND_STRENGTH_UNSPECIFIED:
        min_trend_strength = TREND_STRENGTHS_FROM_PROTO.get(proto.min_trend_strength)
        if min_trend_strength is None:
            violations.append(FieldViolation("filter.min_trend_strength", "unknown trend strength"))
    min_surge_strength = None
    if proto.min_surge_strength != events_pb2.SURGE_STRENGTH_UNSPECIFIED:
        min_surge_strength = SURGE_STRENGTHS_FROM_PROTO.get(proto.min_surge_strength)
        if min_surge_strength is None:
            violations.append(FieldViolation("filter.min_surge_strength", "unknown surge strength"))
    if proto.HasField("min_pattern_confidence"):
        violations.append(
            FieldViolation("filter.min_pattern_confidence", "pattern events are not produced yet")
        )
    min_price = proto.min_price if proto.HasField("min_price") else None
    max_price = proto.max_price if proto.HasField("max_price") else None
    min_volume = proto.min_volume if proto.HasField("min_volume") else None
    max_volume = proto.max_volume if proto.HasField("max_volume") else None
    _check_range("price", min_price, max_price, violations)
    _check_range("volume", min_volume, max_volume, violations)
    return EventFilter(
        symbols=frozenset(symbols),
        event_types=frozenset(event_types),
        directions=frozenset(directions),
        min_significance=min_significance,
        min_trend_strength=min_trend_strength,
        min_surge_strength=min_surge_strength,
        min_price=min_price,
        max_price=max_price,
        min_volume=min_volume,
        max_volume=max_volume,
    )


def _check_range(name: str, low: float | None, high: float | None, violations: list[FieldViolation]) -> None:
    for bound, value in (("min", low), ("max", high)):
        if value is not None and value < 0:
            violations.append(FieldViolation(f"filter.{bound}_{name}", "must not be negative"))
    if low is not None and high is not None and low > high:
        violations.append(FieldViolation(f"filter.max_{name}", f"must not be below filter.min_{name}"))


def _parse_delivery(
    proto: event_service_pb2.DeliveryOptions, violations: list[FieldViolation]
) -> DeliveryOptions:
    batch_size = proto.max_batch_size or DEFAULT_BATCH_SIZE
    if batch_size > MAX_BATCH_SIZE:
        violations.append(FieldViolation("delivery.max_batch_size", f"must be 1 to {MAX_BATCH_SIZE}"))
    latency_s = _seconds(proto.max_batch_latency) if proto.HasField("max_batch_latency") else 0.0
    if not 0 <= latency_s <= MAX_BATCH_LATENCY_S:
        violations.append(FieldViolation("delivery.max_batch_latency", "must be 0 to 1 s"))
    heartbeat_s = _seconds(proto.heartbeat_interval) if proto.HasField("heartbeat_interval") else 0.0
    if heartbeat_s and not MIN_HEARTBEAT_S <= heartbeat_s <= MAX_HEARTBEAT_S:
        violations.append(FieldViolation("delivery.heartbeat_interval", "must be 1 s to 60 s"))
    return DeliveryOptions(
        max_batch_size=batch_size,
        max_batch_latency_s=latency_s or DEFAULT_BATCH_LATENCY_S,
        heartbeat_interval_s=heartbeat_s or DEFAULT_HEARTBEAT_S,
    )
