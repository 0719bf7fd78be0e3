"""Conversions of `events.proto`: events and their details, and the enum tables other mappers share."""

from __future__ import annotations

from tickstock.v1 import events_pb2
from tickstock_server.api.mappers._common import duration_from_ns, timestamp_from_ns
from tickstock_server.domain import events as domain
from tickstock_server.domain.patterns import PatternSource, PatternTimeframe

EVENT_TYPES: dict[domain.EventType, events_pb2.EventType.ValueType] = {
    domain.EventType.HIGH: events_pb2.EVENT_TYPE_HIGH,
    domain.EventType.LOW: events_pb2.EVENT_TYPE_LOW,
    domain.EventType.TREND: events_pb2.EVENT_TYPE_TREND,
    domain.EventType.SURGE: events_pb2.EVENT_TYPE_SURGE,
    domain.EventType.PATTERN: events_pb2.EVENT_TYPE_PATTERN,
}
DIRECTIONS: dict[domain.Direction, events_pb2.Direction.ValueType] = {
    domain.Direction.UP: events_pb2.DIRECTION_UP,
    domain.Direction.DOWN: events_pb2.DIRECTION_DOWN,
}
MARKET_STATUSES: dict[domain.MarketStatus, events_pb2.MarketStatus.ValueType] = {
    domain.MarketStatus.PRE: events_pb2.MARKET_STATUS_PRE,
    domain.MarketStatus.REGULAR: events_pb2.MARKET_STATUS_REGULAR,
    domain.MarketStatus.AFTER: events_pb2.MARKET_STATUS_AFTER,
    domain.MarketStatus.CLOSED: events_pb2.MARKET_STATUS_CLOSED,
}
_PERIODS: dict[domain.MarketPeriod, events_pb2.MarketPeriod.ValueType] = {
    domain.MarketPeriod.PREMARKET: events_pb2.MARKET_PERIOD_PREMARKET,
    domain.MarketPeriod.OPENING: events_pb2.MARKET_PERIOD_OPENING,
    domain.MarketPeriod.MIDDAY: events_pb2.MARKET_PERIOD_MIDDAY,
    domain.MarketPeriod.CLOSING: events_pb2.MARKET_PERIOD_CLOSING,
    domain.MarketPeriod.AFTERHOURS: events_pb2.MARKET_PERIOD_AFTERHOURS,
    domain.MarketPeriod.CLOSED: events_pb2.MARKET_PERIOD_CLOSED,
}
_REVERSAL_TYPES: dict[domain.ReversalType, events_pb2.ReversalType.ValueType] = {
    domain.ReversalType.V_BOTTOM: events_pb2.REVERSAL_TYPE_V_BOTTOM,
    domain.ReversalType.V_TOP: events_pb2.REVERSAL_TYPE_V_TOP,
}
_REVERSAL_PATTERNS: dict[domain.ReversalPattern, events_pb2.ReversalPattern.ValueType] = {
    domain.ReversalPattern.W_BOTTOM: events_pb2.REVERSAL_PATTERN_W_BOTTOM,
    domain.ReversalPattern.M_TOP: events_pb2.REVERSAL_PATTERN_M_TOP,
}

TREND_STRENGTHS: dict[domain.TrendStrength, events_pb2.TrendStrength.ValueType] = {
    domain.TrendStrength.WEAK: events_pb2.TREND_STRENGTH_WEAK,
    domain.TrendStrength.MODERATE: events_pb2.TREND_STRENGTH_MODERATE,
    domain.TrendStrength.STRONG: events_pb2.TREND_STRENGTH_STRONG,
}
TREND_STRENGTHS_FROM_PROTO = {proto: strength for strength, proto in TREND_STRENGTHS.items()}
SURGE_STRENGTHS: dict[domain.SurgeStrength, events_pb2.SurgeStrength.ValueType] = {
    domain.SurgeStrength.WEAK: events_pb2.SURGE_STRENGTH_WEAK,
    domain.SurgeStrength.MODERATE: events_pb2.SURGE_STRENGTH_MODERATE,
    domain.SurgeStrength.STRONG: events_pb2.SURGE_STRENGTH_STRONG,
}
SURGE_STRENGTHS_FROM_PROTO = {proto: strength for strength, proto in SURGE_STRENGTHS.items()}
_VWAP_POSITIONS: dict[domain.VwapPosition | None, events_pb2.VwapPosition.ValueType] = {
    None: events_pb2.VWAP_POSITION_UNSPECIFIED,
    domain.VwapPosition.ABOVE: events_pb2.VWAP_POSITION_ABOVE,
    domain.VwapPosition.BELOW: events_pb2.VWAP_POSITION_BELOW,
}
_SURGE_TRIGGERS: dict[domain.SurgeTrigger, events_pb2.SurgeTrigger.ValueType] = {
    domain.SurgeTrigger.PRICE: events_pb2.SURGE_TRIGGER_PRICE,
    domain.SurgeTrigger.VOLUME: events_pb2.SURGE_TRIGGER_VOLUME,
    domain.SurgeTrigger.PRICE_AND_VOLUME: events_pb2.SURGE_TRIGGER_PRICE_AND_VOLUME,
    domain.SurgeTrigger.PRICE_DRIVEN: events_pb2.SURGE_TRIGGER_PRICE_DRIVEN,
    domain.SurgeTrigger.VOLUME_DRIVEN: events_pb2.SURGE_TRIGGER_VOLUME_DRIVEN,
}
_SURGE_MODES: dict[domain.SurgeMode, events_pb2.SurgeMode.ValueType] = {
    domain.SurgeMode.STRICT: events_pb2.SURGE_MODE_STRICT,
    domain.SurgeMode.OR: events_pb2.SURGE_MODE_OR,
    domain.SurgeMode.ADAPTIVE: events_pb2.SURGE_MODE_ADAPTIVE,
}

TIMEFRAMES: dict[PatternTimeframe, events_pb2.PatternTimeframe.ValueType] = {
    PatternTimeframe.DAILY: events_pb2.PATTERN_TIMEFRAME_DAILY,
    PatternTimeframe.INTRADAY: events_pb2.PATTERN_TIMEFRAME_INTRADAY,
    PatternTimeframe.COMBO: events_pb2.PATTERN_TIMEFRAME_COMBO,
}
_PATTERN_SOURCES: dict[PatternSource, events_pb2.PatternSource.ValueType] = {
    PatternSource.PRODUCER: events_pb2.PATTERN_SOURCE_PRODUCER,
    PatternSource.FALLBACK: events_pb2.PATTERN_SOURCE_FALLBACK,
}


def direction_to_proto(direction: domain.Direction | None) -> events_pb2.Direction.ValueType:
    """A direction, or DIRECTION_UNSPECIFIED for none."""
    return events_pb2.DIRECTION_UNSPECIFIED if direction is None else DIRECTIONS[direction]


def high_low_to_proto(details: domain.HighLowDetails) -> events_pb2.HighLowDetails:
    """High/low details to proto."""
    proto = events_pb2.HighLowDetails(
        period=events_pb2.HIGH_LOW_PERIOD_SESSION,
        session_high=details.session_high,
        session_low=details.session_low,
        previous_high=details.previous_high,
        previous_low=details.previous_low,
        significance_score=details.significance_score,
        trend_flag=direction_to_proto(details.trend_flag),
        surge_flag=direction_to_proto(details.surge_flag),
        thresholds=events_pb2.HighLowThresholds(
            min_price_change=details.thresholds.min_price_change,
            min_percent_change=details.thresholds.min_percent_change,
            cooldown=duration_from_ns(details.thresholds.cooldown_ns),
        ),
    )
    info = details.reversal_info
    if info is not None:
        proto.reversal_info.CopyFrom(
            events_pb2.ReversalInfo(
                type=_REVERSAL_TYPES[info.type],
                pattern=(
                    events_pb2.REVERSAL_PATTERN_UNSPECIFIED
                    if info.pattern is None
                    else _REVERSAL_PATTERNS[info.pattern]
                ),
                time_span=duration_from_ns(info.time_span_ns),
                rapid=info.rapid,
                previous_type=EVENT_TYPES[info.previous_type],
                previous_price=info.previous_price,
            )
        )
    return proto


def trend_to_proto(details: domain.TrendDetails) -> events_pb2.TrendDetails:
    """Trend details to proto."""
    thresholds = details.thresholds
    return events_pb2.TrendDetails(
        strength=TREND_STRENGTHS[details.strength],
        score=details.score,
        short_score=details.short_score,
        medium_score=details.medium_score,
        long_score=details.long_score,
        vwap_position=_VWAP_POSITIONS[details.vwap_position],
        age=duration_from_ns(details.age_ns),
        thresholds=events_pb2.TrendThresholds(
            direction_threshold=thresholds.direction_threshold,
            strength_threshold=thresholds.strength_threshold,
            volatility_multiplier=thresholds.volatility_multiplier,
            emission_interval=duration_from_ns(thresholds.emission_interval_ns),
            min_points_per_window=thresholds.min_points_per_window,
        ),
    )


def surge_to_proto(details: domain.SurgeDetails) -> events_pb2.SurgeDetails:
    """Surge details to proto."""
    thresholds = details.thresholds
    return events_pb2.SurgeDetails(
        magnitude=details.magnitude,
        score=details.score,
        strength=SURGE_STRENGTHS[details.strength],
        trigger=_SURGE_TRIGGERS[details.trigger],
        volume_multiplier=details.volume_multiplier,
        baseline_price=details.baseline_price,
        expire_time=timestamp_from_ns(details.expire_ns),
        daily_count=details.daily_count,
        description=details.description,
        thresholds=events_pb2.SurgeThresholds(
            min_percent_change=thresholds.min_percent_change,
            min_price_change=thresholds.min_price_change,
            min_volume_multiplier=thresholds.min_volume_multiplier,
            mode=_SURGE_MODES[thresholds.mode],
            baseline_interval=duration_from_ns(thresholds.baseline_interval_ns),
        ),
    )


def pattern_details_to_proto(details: domain.PatternDetails) -> events_pb2.PatternDetails:
    """Pattern details to proto (of a PATTERN event, and of PatternService's patterns)."""
    indicators = events_pb2.PatternIndicators()
    for name in ("relative_strength", "relative_volume", "rsi"):
        value = getattr(details.indicators, name)
        if value is not None:
            setattr(indicators, name, value)
    return events_pb2.PatternDetails(
        pattern_id=details.pattern_id,
        pattern_type=details.pattern_type,
        confidence=details.confidence,
        price_change=details.price_change_pct,
        expire_time=timestamp_from_ns(details.expires_ns),
        timeframe=(
            events_pb2.PATTERN_TIMEFRAME_UNSPECIFIED
            if details.timeframe is None
            else TIMEFRAMES[details.timeframe]
        ),
        source=_PATTERN_SOURCES[details.source],
        indicators=indicators,
        flow_id=details.flow_id,
    )


def event_to_proto(
    event: domain.Event, *, seq: int, ingest_ts_ns: int, detect_ts_ns: int
) -> events_pb2.Event:
    """A sequenced domain event to its proto."""
    proto = events_pb2.Event(
        seq=seq,
        event_id=event.event_id,
        symbol=event.symbol,
        type=EVENT_TYPES[event.type],
        direction=DIRECTIONS[event.direction],
        price=event.price,
        event_time=timestamp_from_ns(event.ts_ns),
        ingest_time=timestamp_from_ns(ingest_ts_ns),
        detect_time=timestamp_from_ns(detect_ts_ns),
        reversal=event.reversal,
        count=event.count,
        count_up=event.count_up,
        count_down=event.count_down,
        percent_change=event.percent_change,
        vwap_divergence=event.vwap_divergence,
        volume=event.volume,
        relative_volume=event.relative_volume,
        label=event.label,
        market_status=MARKET_STATUSES[event.market_status],
        market_period=_PERIODS[event.market_period],
        provenance=events_pb2.Provenance(
            detector_version=event.detector_version, config_hash=event.config_hash
        ),
    )
    if event.vwap is not None:
        proto.vwap = event.vwap
    details = event.details
    if isinstance(details, domain.HighLowDetails):
        proto.high_low.CopyFrom(high_low_to_proto(details))
    elif isinstance(details, domain.TrendDetails):
        proto.trend.CopyFrom(trend_to_proto(details))
    elif isinstance(details, domain.SurgeDetails):
        proto.surge.CopyFrom(surge_to_proto(details))
    else:
        proto.pattern.CopyFrom(pattern_details_to_proto(details))
    return proto


def encode_event(event: domain.Event, seq: int, ingest_ts_ns: int, detect_ts_ns: int) -> bytes:
    """Serialise a sequenced event once, for every subscriber (the event log's encoder)."""
    return event_to_proto(
        event, seq=seq, ingest_ts_ns=ingest_ts_ns, detect_ts_ns=detect_ts_ns
    ).SerializeToString()
