"""Proto conversions of event streams: stream messages, filter presets, delivery options and snapshots."""

from __future__ import annotations

import time

from tickstock.v1 import common_pb2, event_service_pb2, events_pb2
from tickstock_server.api import wire
from tickstock_server.api.mappers import (
    DIRECTIONS,
    EVENT_TYPES,
    MARKET_STATUSES,
    SURGE_STRENGTHS,
    TREND_STRENGTHS,
    duration_from_ns,
    timestamp_from_ns,
)
from tickstock_server.delivery.hub import DeliveryOptions, Dropped, EndReason, SlowConsumerPolicy
from tickstock_server.delivery.replay import Gap, GapReason
from tickstock_server.domain.events import Direction
from tickstock_server.domain.filter_spec import FilterSpec
from tickstock_server.domain.snapshot import SymbolSnapshot
from tickstock_server.ports import StoredPreset
from tickstock_server.support.time_units import NS_PER_S

POLICIES: dict[SlowConsumerPolicy, event_service_pb2.SlowConsumerPolicy.ValueType] = {
    SlowConsumerPolicy.DISCONNECT: event_service_pb2.SLOW_CONSUMER_POLICY_DISCONNECT,
    SlowConsumerPolicy.CONFLATE: event_service_pb2.SLOW_CONSUMER_POLICY_CONFLATE,
}
_GAP_REASONS: dict[GapReason, event_service_pb2.GapReason.ValueType] = {
    GapReason.AGED_OUT: event_service_pb2.GAP_REASON_AGED_OUT,
    GapReason.EPOCH_CHANGED: event_service_pb2.GAP_REASON_EPOCH_CHANGED,
    GapReason.NOT_PERSISTED: event_service_pb2.GAP_REASON_NOT_PERSISTED,
}
_ROTATE_REASONS: dict[EndReason, event_service_pb2.RotateReason.ValueType] = {
    EndReason.MAX_AGE: event_service_pb2.ROTATE_REASON_MAX_AGE,
    EndReason.SHUTDOWN: event_service_pb2.ROTATE_REASON_SHUTDOWN,
}

Response = event_service_pb2.StreamEventsResponse


def token(epoch: str, seq: int) -> event_service_pb2.ResumeToken:
    """A resume token."""
    return event_service_pb2.ResumeToken(epoch=epoch, seq=seq)


def batch_response(encoded_events: list[bytes], epoch: str, last_seq: int) -> bytes:
    """A serialised EventBatch response around pre-encoded events."""
    return wire.event_batch_response(encoded_events, token(epoch, last_seq).SerializeToString())


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
            from_seq=gap.from_seq, to_seq=gap.to_seq, missed_count=count, reason=_GAP_REASONS[gap.reason]
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


def _direction(direction: Direction | None) -> events_pb2.Direction.ValueType:
    return DIRECTIONS[direction] if direction is not None else events_pb2.DIRECTION_UNSPECIFIED


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
                    trend_direction=_direction(state.trend_direction),
                    trend_score=state.trend_score,
                    surge_direction=_direction(state.surge_direction),
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
    for name in ("min_significance", "min_price", "max_price", "min_volume", "max_volume"):
        value = getattr(spec, name)
        if value is not None:
            setattr(proto, name, value)
    return proto


def preset_to_proto(preset: StoredPreset) -> event_service_pb2.FilterPreset:
    """A stored preset to its proto."""
    return event_service_pb2.FilterPreset(
        name=preset.name, filter=filter_to_proto(preset.spec), update_time=timestamp_from_ns(preset.update_ns)
    )
