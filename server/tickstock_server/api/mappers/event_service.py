"""Conversions of `event_service.proto`: stream requests validated, stream messages, presets, snapshots."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from google.protobuf import duration_pb2

from tickstock.v1 import common_pb2, event_service_pb2, events_pb2
from tickstock_server.api import wire
from tickstock_server.api.mappers._common import duration_from_ns, timestamp_from_ns
from tickstock_server.api.mappers.events import (
    DIRECTIONS,
    EVENT_TYPES,
    MARKET_STATUSES,
    SURGE_STRENGTHS,
    SURGE_STRENGTHS_FROM_PROTO,
    TREND_STRENGTHS,
    TREND_STRENGTHS_FROM_PROTO,
    direction_to_proto,
)
from tickstock_server.delivery.hub import DeliveryOptions, Dropped, EndReason, SlowConsumerPolicy
from tickstock_server.delivery.replay import Gap, GapReason
from tickstock_server.delivery.session import ResumePoint
from tickstock_server.domain.events import Direction, EventType
from tickstock_server.domain.filter_spec import FilterSpec, StoredPreset
from tickstock_server.domain.snapshot import SymbolSnapshot
from tickstock_server.domain.symbols import is_symbol
from tickstock_server.errors import FieldViolation, InvalidRequestError
from tickstock_server.support.time_units import NS_PER_S

POLICIES: dict[SlowConsumerPolicy, event_service_pb2.SlowConsumerPolicy.ValueType] = {
    SlowConsumerPolicy.DISCONNECT: event_service_pb2.SLOW_CONSUMER_POLICY_DISCONNECT,
    SlowConsumerPolicy.CONFLATE: event_service_pb2.SLOW_CONSUMER_POLICY_CONFLATE,
}
_GAP_REASONS: dict[GapReason, event_service_pb2.GapReason.ValueType] = {
    GapReason.AGED_OUT: event_service_pb2.GAP_REASON_AGED_OUT,
    GapReason.EPOCH_CHANGED: event_service_pb2.GAP_REASON_EPOCH_CHANGED,
    GapReason.NOT_PERSISTED: event_service_pb2.GAP_REASON_NOT_PERSISTED,
    GapReason.REPLAY_LIMIT: event_service_pb2.GAP_REASON_REPLAY_LIMIT,
}
_ROTATE_REASONS: dict[EndReason, event_service_pb2.RotateReason.ValueType] = {
    EndReason.MAX_AGE: event_service_pb2.ROTATE_REASON_MAX_AGE,
    EndReason.SHUTDOWN: event_service_pb2.ROTATE_REASON_SHUTDOWN,
    EndReason.LOG_RESTARTED: event_service_pb2.ROTATE_REASON_LOG_RESTARTED,
}

Response = event_service_pb2.StreamEventsResponse


def token(epoch: str, seq: int) -> event_service_pb2.ResumeToken:
    """A resume token."""
    return event_service_pb2.ResumeToken(epoch=epoch, seq=seq)


def batch_response(encoded_events: list[bytes], epoch: str, last_seq: int) -> bytes:
    """A serialised EventBatch response around pre-encoded events."""
    return wire.event_batch_response(encoded_events, wire.resume_token(epoch, last_seq))


def delivery_to_proto(options: DeliveryOptions) -> event_service_pb2.DeliveryOptions:
    """Effective delivery options, as echoed in the subscription status."""
    return event_service_pb2.DeliveryOptions(
        max_batch_size=options.max_batch_size,
        max_batch_latency=duration_from_ns(round(options.max_batch_latency_s * NS_PER_S)),
        heartbeat_interval=duration_from_ns(round(options.heartbeat_interval_s * NS_PER_S)),
        slow_consumer_policy=POLICIES[options.slow_consumer_policy],
    )


def gap_response(gap: Gap) -> Response:
    """A GapNotice."""
    count = 0 if gap.reason is GapReason.EPOCH_CHANGED else gap.count
    return Response(
        gap_notice=event_service_pb2.GapNotice(
            from_seq=gap.from_seq,
            to_seq=gap.to_seq,
            missed_count=count,
            reason=_GAP_REASONS[gap.reason],
            missed_count_is_upper_bound=gap.count_is_upper_bound,
        )
    )


def dropped_response(dropped: Dropped) -> Response:
    """A DropNotice."""
    return Response(
        drop_notice=event_service_pb2.DropNotice(
            policy=POLICIES[dropped.policy],
            dropped_count=dropped.count,
            first_dropped_seq=dropped.first_seq,
            last_dropped_seq=dropped.last_seq,
            total_dropped=dropped.total,
        )
    )


def heartbeat_response(position: int, feed_age_ns: int, queue_depth: int) -> Response:
    """A Heartbeat."""
    return Response(
        heartbeat=common_pb2.Heartbeat(
            server_time=timestamp_from_ns(time.time_ns()),
            last_seq=position,
            feed_age=duration_from_ns(max(feed_age_ns, 0)),
            queue_depth=queue_depth,
        )
    )


def rotate_response(reason: EndReason, epoch: str, position: int, deadline_ns: int) -> Response:
    """A RotateHint."""
    return Response(
        rotate_hint=event_service_pb2.RotateHint(
            reason=_ROTATE_REASONS[reason],
            resume_token=token(epoch, position),
            deadline=timestamp_from_ns(deadline_ns),
        )
    )


def snapshot_response(symbols: list[SymbolSnapshot], epoch: str, as_of_seq: int, last: bool) -> Response:
    """A SnapshotChunk."""
    return Response(
        snapshot_chunk=event_service_pb2.SnapshotChunk(
            symbols=[
                event_service_pb2.SymbolSnapshot(
                    symbol=state.symbol,
                    last_price=state.last_price,
                    last_tick_time=timestamp_from_ns(state.last_tick_ns),
                    session_high=state.session_high or 0.0,
                    session_low=state.session_low or 0.0,
                    trend_direction=direction_to_proto(state.trend_direction),
                    trend_score=state.trend_score,
                    surge_direction=direction_to_proto(state.surge_direction),
                    market_status=MARKET_STATUSES[state.market_status],
                )
                for state in symbols
            ],
            as_of=token(epoch, as_of_seq),
            last=last,
        )
    )


def filter_to_proto(spec: FilterSpec) -> event_service_pb2.EventFilter:
    """A stored filter spec back to its proto (for ListFilterPresets)."""
    proto = event_service_pb2.EventFilter(
        symbols=spec.symbols,
        universes=spec.universes,
        watchlist_ids=spec.watchlist_ids,
        event_types=[EVENT_TYPES[t] for t in spec.event_types],
        directions=[DIRECTIONS[d] for d in spec.directions],
    )
    if spec.min_trend_strength is not None:
        proto.min_trend_strength = TREND_STRENGTHS[spec.min_trend_strength]
    if spec.min_surge_strength is not None:
        proto.min_surge_strength = SURGE_STRENGTHS[spec.min_surge_strength]
    for name in (
        "min_significance",
        "min_pattern_confidence",
        "min_price",
        "max_price",
        "min_volume",
        "max_volume",
    ):
        value = getattr(spec, name)
        if value is not None:
            setattr(proto, name, value)
    return proto


def preset_to_proto(preset: StoredPreset) -> event_service_pb2.FilterPreset:
    """A stored preset to its proto."""
    return event_service_pb2.FilterPreset(
        name=preset.name, filter=filter_to_proto(preset.spec), update_time=timestamp_from_ns(preset.update_ns)
    )


_EVENT_TYPES = {proto: domain for domain, proto in EVENT_TYPES.items()}
_DIRECTIONS = {proto: domain for domain, proto in DIRECTIONS.items()}
_POLICIES = {
    event_service_pb2.SLOW_CONSUMER_POLICY_UNSPECIFIED: SlowConsumerPolicy.DISCONNECT,
    event_service_pb2.SLOW_CONSUMER_POLICY_DISCONNECT: SlowConsumerPolicy.DISCONNECT,
    event_service_pb2.SLOW_CONSUMER_POLICY_CONFLATE: SlowConsumerPolicy.CONFLATE,
}
PRESET_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")

DEFAULT_BATCH_SIZE = 100
DEFAULT_HEARTBEAT_S = 15.0
MIN_HEARTBEAT_S = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamRequest:
    """A validated stream request; the filter is still unresolved."""

    spec: FilterSpec
    preset_name: str
    options: DeliveryOptions
    resume: ResumePoint | None
    include_snapshot: bool


def _seconds(duration: duration_pb2.Duration) -> float:
    return duration.seconds + duration.nanos / NS_PER_S


def parse_stream_request(request: event_service_pb2.StreamEventsRequest) -> StreamRequest:
    """Validate the request; raise InvalidRequestError listing every bad field."""
    violations: list[FieldViolation] = []
    spec = parse_filter(request.filter, "filter", violations)
    options = _parse_delivery(request.delivery, violations)
    if request.preset_name:
        check_preset_name(request.preset_name, "preset_name", violations)
    resume = None
    if request.HasField("resume_token"):
        if not request.resume_token.epoch:
            violations.append(FieldViolation("resume_token.epoch", "must be set (from a previous stream)"))
        resume = ResumePoint(request.resume_token.epoch, request.resume_token.seq)
    if violations:
        raise InvalidRequestError(violations)
    return StreamRequest(
        spec=spec,
        preset_name=request.preset_name,
        options=options,
        resume=resume,
        include_snapshot=request.include_snapshot,
    )


def check_preset_name(name: str, field: str, violations: list[FieldViolation]) -> None:
    """Add a violation unless `name` is 1 to 64 letters, digits, '-', '_' or '.'."""
    if not PRESET_NAME.fullmatch(name):
        violations.append(FieldViolation(field, "must be 1 to 64 letters, digits, '-', '_' or '.'"))


def parse_filter(
    proto: event_service_pb2.EventFilter, prefix: str, violations: list[FieldViolation]
) -> FilterSpec:
    """Validate an EventFilter into a FilterSpec, adding violations under `prefix`."""
    symbols: dict[str, None] = {}
    for index, raw in enumerate(proto.symbols):
        symbol = raw.strip().upper()
        if is_symbol(symbol):
            symbols[symbol] = None
        else:
            violations.append(FieldViolation(f"{prefix}.symbols[{index}]", f"{raw!r} is not a ticker symbol"))
    for name in ("universes", "watchlist_ids"):
        values = getattr(proto, name)
        for index, value in enumerate(values):
            if not value.strip():
                violations.append(FieldViolation(f"{prefix}.{name}[{index}]", "must not be empty"))
    event_types: dict[EventType, None] = {}
    for index, event_type in enumerate(proto.event_types):
        if event_type in _EVENT_TYPES:
            event_types[_EVENT_TYPES[event_type]] = None
        else:
            violations.append(
                FieldViolation(f"{prefix}.event_types[{index}]", "must be a specific event type")
            )
    directions: dict[Direction, None] = {}
    for index, direction in enumerate(proto.directions):
        if direction in _DIRECTIONS:
            directions[_DIRECTIONS[direction]] = None
        else:
            violations.append(FieldViolation(f"{prefix}.directions[{index}]", "must be UP or DOWN"))
    min_significance = proto.min_significance if proto.HasField("min_significance") else None
    if min_significance is not None and not 0 <= min_significance <= 100:
        violations.append(FieldViolation(f"{prefix}.min_significance", "must be between 0 and 100"))
    min_trend_strength = None
    if proto.min_trend_strength != events_pb2.TREND_STRENGTH_UNSPECIFIED:
        min_trend_strength = TREND_STRENGTHS_FROM_PROTO.get(proto.min_trend_strength)
        if min_trend_strength is None:
            violations.append(FieldViolation(f"{prefix}.min_trend_strength", "unknown trend strength"))
    min_surge_strength = None
    if proto.min_surge_strength != events_pb2.SURGE_STRENGTH_UNSPECIFIED:
        min_surge_strength = SURGE_STRENGTHS_FROM_PROTO.get(proto.min_surge_strength)
        if min_surge_strength is None:
            violations.append(FieldViolation(f"{prefix}.min_surge_strength", "unknown surge strength"))
    min_pattern_confidence = (
        proto.min_pattern_confidence if proto.HasField("min_pattern_confidence") else None
    )
    if min_pattern_confidence is not None and not 0 <= min_pattern_confidence <= 1:  # also refuses NaN
        violations.append(FieldViolation(f"{prefix}.min_pattern_confidence", "must be between 0 and 1"))
    min_price = proto.min_price if proto.HasField("min_price") else None
    max_price = proto.max_price if proto.HasField("max_price") else None
    min_volume = proto.min_volume if proto.HasField("min_volume") else None
    max_volume = proto.max_volume if proto.HasField("max_volume") else None
    _check_range(f"{prefix}.", "price", min_price, max_price, violations)
    _check_range(f"{prefix}.", "volume", min_volume, max_volume, violations)
    return FilterSpec(
        symbols=tuple(symbols),
        universes=tuple(value.strip() for value in proto.universes),
        watchlist_ids=tuple(value.strip() for value in proto.watchlist_ids),
        event_types=tuple(event_types),
        directions=tuple(directions),
        min_significance=min_significance,
        min_trend_strength=min_trend_strength,
        min_surge_strength=min_surge_strength,
        min_pattern_confidence=min_pattern_confidence,
        min_price=min_price,
        max_price=max_price,
        min_volume=min_volume,
        max_volume=max_volume,
    )


def _check_range(
    prefix: str, name: str, low: float | None, high: float | None, violations: list[FieldViolation]
) -> None:
    for bound, value in (("min", low), ("max", high)):
        if value is not None and not 0 <= value < math.inf:  # also refuses NaN
            violations.append(
                FieldViolation(f"{prefix}{bound}_{name}", "must be a finite number, not negative")
            )
    if low is not None and high is not None and low > high:
        violations.append(FieldViolation(f"{prefix}max_{name}", f"must not be below {prefix}min_{name}"))


def _parse_delivery(
    proto: event_service_pb2.DeliveryOptions, violations: list[FieldViolation]
) -> DeliveryOptions:
    # The proto's rules bound the batch size to 1000, the latency to 0-1 s and the heartbeat to 0-60 s;
    # left here: a heartbeat between 0 (the default) and 1 s.
    batch_size = proto.max_batch_size or DEFAULT_BATCH_SIZE
    latency_s = _seconds(proto.max_batch_latency) if proto.HasField("max_batch_latency") else 0.0
    heartbeat_s = _seconds(proto.heartbeat_interval) if proto.HasField("heartbeat_interval") else 0.0
    if 0 < heartbeat_s < MIN_HEARTBEAT_S:
        violations.append(FieldViolation("delivery.heartbeat_interval", "must be 1 s to 60 s"))
    policy = _POLICIES.get(proto.slow_consumer_policy)
    if policy is None:
        violations.append(FieldViolation("delivery.slow_consumer_policy", "unknown policy"))
    return DeliveryOptions(
        max_batch_size=batch_size,
        max_batch_latency_s=latency_s,
        heartbeat_interval_s=heartbeat_s or DEFAULT_HEARTBEAT_S,
        slow_consumer_policy=policy or SlowConsumerPolicy.DISCONNECT,
    )
