"""Conversions between `tickstock.v1` messages and the client's models.

With `_pattern_proto` (statistics, alerts) and `_backtest_proto` (backtests), the only modules that know
both.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf import timestamp_pb2

from tickstock.v1 import (
    event_service_pb2,
    events_pb2,
    market_data_service_pb2,
    pattern_service_pb2,
    universe_service_pb2,
)
from tickstock_client._models import (
    Bar,
    BarInterval,
    Direction,
    Dropped,
    Event,
    EventFilter,
    EventType,
    FilterPreset,
    Gap,
    GapReason,
    HighLowDetails,
    MarketStatus,
    Pattern,
    PatternDetails,
    PatternFilter,
    PatternSort,
    ResumeToken,
    SurgeDetails,
    SurgeStrength,
    Symbol,
    TrendDetails,
    TrendStrength,
    Universe,
    Watchlist,
)

_E = TypeVar("_E", bound=enum.Enum)

_BAR_INTERVALS = {
    BarInterval.ONE_MINUTE: market_data_service_pb2.BAR_INTERVAL_1_MINUTE,
    BarInterval.FIVE_MINUTES: market_data_service_pb2.BAR_INTERVAL_5_MINUTES,
    BarInterval.FIFTEEN_MINUTES: market_data_service_pb2.BAR_INTERVAL_15_MINUTES,
    BarInterval.ONE_HOUR: market_data_service_pb2.BAR_INTERVAL_1_HOUR,
    BarInterval.ONE_DAY: market_data_service_pb2.BAR_INTERVAL_1_DAY,
}


def proto_name(enum_type: Any, number: int) -> str:
    """The name of `number` in a generated enum; "UNKNOWN" for a number this client's protos lack.

    A newer server may send values added after this client was built: they arrive as bare numbers.
    """
    try:
        return str(enum_type.Name(number))
    except ValueError:
        return "UNKNOWN"


def enum_from_proto(kind: type[_E], name: str, prefix: str) -> _E:
    """The member whose value is the proto name without `prefix`, lower-cased; UNKNOWN otherwise."""
    try:
        return kind(name.removeprefix(prefix).lower())
    except ValueError:
        return kind("unknown")


def enum_name(name: str, prefix: str) -> str:
    """A proto enum name as a lower-case word: "TREND_STRENGTH_STRONG" -> "strong"."""
    return name.removeprefix(prefix).lower()


def datetime_from_proto(message: timestamp_pb2.Timestamp) -> datetime:
    return message.ToDatetime(tzinfo=UTC)


def timestamp_to_proto(moment: datetime) -> timestamp_pb2.Timestamp:
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone: pass an aware datetime")
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment)
    return message


def optional_datetime(parent: object, field: str) -> datetime | None:
    """The aware UTC time in `field` of `parent`; None when the field is not set."""
    has = parent.HasField(field)  # type: ignore[attr-defined]
    return datetime_from_proto(getattr(parent, field)) if has else None


# Optional scalar fields of EventFilter, the same name in the model and the message.
_FILTER_SCALARS = (
    "min_significance",
    "min_price",
    "max_price",
    "min_volume",
    "max_volume",
    "min_pattern_confidence",
)


def event_filter_to_proto(event_filter: EventFilter) -> event_service_pb2.EventFilter:
    message = event_service_pb2.EventFilter(
        symbols=event_filter.symbols,
        universes=event_filter.universes,
        watchlist_ids=event_filter.watchlist_ids,
        event_types=[events_pb2.EventType.Value(f"EVENT_TYPE_{t.name}") for t in event_filter.event_types],
        directions=[events_pb2.Direction.Value(f"DIRECTION_{d.name}") for d in event_filter.directions],
    )
    for field in _FILTER_SCALARS:
        value = getattr(event_filter, field)
        if value is not None:
            setattr(message, field, value)
    # The strengths are plain enums in the proto: UNSPECIFIED (0) is "no minimum", None here.
    if event_filter.min_trend_strength is not None:
        name = f"TREND_STRENGTH_{event_filter.min_trend_strength.name}"
        message.min_trend_strength = events_pb2.TrendStrength.Value(name)
    if event_filter.min_surge_strength is not None:
        name = f"SURGE_STRENGTH_{event_filter.min_surge_strength.name}"
        message.min_surge_strength = events_pb2.SurgeStrength.Value(name)
    return message


def _minimum(kind: type[_E], enum_type: Any, number: int, prefix: str) -> _E | None:
    """A strength minimum of a filter; None for UNSPECIFIED (0), which sets no minimum."""
    return enum_from_proto(kind, proto_name(enum_type, number), prefix) if number else None


def event_filter_from_proto(message: event_service_pb2.EventFilter) -> EventFilter:
    def optional(field: str) -> Any:
        return getattr(message, field) if message.HasField(field) else None  # type: ignore[arg-type]

    return EventFilter(
        symbols=tuple(message.symbols),
        universes=tuple(message.universes),
        watchlist_ids=tuple(message.watchlist_ids),
        event_types=tuple(
            enum_from_proto(EventType, proto_name(events_pb2.EventType, t), "EVENT_TYPE_")
            for t in message.event_types
        ),
        directions=tuple(
            enum_from_proto(Direction, proto_name(events_pb2.Direction, d), "DIRECTION_")
            for d in message.directions
        ),
        min_trend_strength=_minimum(
            TrendStrength, events_pb2.TrendStrength, message.min_trend_strength, "TREND_STRENGTH_"
        ),
        min_surge_strength=_minimum(
            SurgeStrength, events_pb2.SurgeStrength, message.min_surge_strength, "SURGE_STRENGTH_"
        ),
        **{field: optional(field) for field in _FILTER_SCALARS},
    )


def filter_preset_from_proto(message: event_service_pb2.FilterPreset) -> FilterPreset:
    return FilterPreset(
        name=message.name,
        filter=event_filter_from_proto(message.filter),
        update_time=optional_datetime(message, "update_time"),
    )


def pattern_filter_to_proto(pattern_filter: PatternFilter) -> pattern_service_pb2.PatternFilter:
    message = pattern_service_pb2.PatternFilter(
        pattern_types=pattern_filter.pattern_types,
        symbols=pattern_filter.symbols,
        universes=pattern_filter.universes,
        timeframes=[
            events_pb2.PatternTimeframe.Value(f"PATTERN_TIMEFRAME_{t.upper()}")
            for t in pattern_filter.timeframes
        ],
    )
    for field in ("min_confidence", "min_relative_strength", "min_relative_volume", "min_rsi", "max_rsi"):
        value = getattr(pattern_filter, field)
        if value is not None:
            setattr(message, field, value)
    return message


def pattern_sort_to_proto(sort: PatternSort) -> pattern_service_pb2.PatternSortField.ValueType:
    return pattern_service_pb2.PatternSortField.Value(f"PATTERN_SORT_FIELD_{sort.name}")


def pattern_details_from_proto(p: events_pb2.PatternDetails) -> PatternDetails:
    return PatternDetails(
        pattern_id=p.pattern_id,
        pattern_type=p.pattern_type,
        confidence=p.confidence,
        timeframe=enum_name(proto_name(events_pb2.PatternTimeframe, p.timeframe), "PATTERN_TIMEFRAME_"),
        source=enum_name(proto_name(events_pb2.PatternSource, p.source), "PATTERN_SOURCE_"),
        expire_time=optional_datetime(p, "expire_time"),
    )


def pattern_from_proto(message: pattern_service_pb2.Pattern) -> Pattern:
    return Pattern(
        symbol=message.symbol,
        price=message.price,
        detect_time=optional_datetime(message, "detect_time"),
        details=pattern_details_from_proto(message.details),
    )


def resume_token_to_proto(token: ResumeToken) -> event_service_pb2.ResumeToken:
    return event_service_pb2.ResumeToken(epoch=token.epoch, seq=token.seq)


def resume_token_from_proto(message: event_service_pb2.ResumeToken) -> ResumeToken:
    return ResumeToken(epoch=message.epoch, seq=message.seq)


def _details(
    message: events_pb2.Event,
) -> HighLowDetails | TrendDetails | SurgeDetails | PatternDetails | None:
    kind = message.WhichOneof("details")
    if kind == "high_low":
        h = message.high_low
        return HighLowDetails(
            session_high=h.session_high,
            session_low=h.session_low,
            previous_high=h.previous_high,
            previous_low=h.previous_low,
            significance_score=h.significance_score,
        )
    if kind == "trend":
        t = message.trend
        return TrendDetails(
            strength=enum_name(proto_name(events_pb2.TrendStrength, t.strength), "TREND_STRENGTH_"),
            score=t.score,
            short_score=t.short_score,
            medium_score=t.medium_score,
            long_score=t.long_score,
        )
    if kind == "surge":
        s = message.surge
        return SurgeDetails(
            magnitude=s.magnitude,
            score=s.score,
            strength=enum_name(proto_name(events_pb2.SurgeStrength, s.strength), "SURGE_STRENGTH_"),
            trigger=enum_name(proto_name(events_pb2.SurgeTrigger, s.trigger), "SURGE_TRIGGER_"),
            volume_multiplier=s.volume_multiplier,
            baseline_price=s.baseline_price,
        )
    if kind == "pattern":
        return pattern_details_from_proto(message.pattern)
    return None


def event_from_proto(message: events_pb2.Event, epoch: str) -> Event:
    return Event(
        epoch=epoch,
        seq=message.seq,
        event_id=message.event_id,
        symbol=message.symbol,
        type=enum_from_proto(EventType, proto_name(events_pb2.EventType, message.type), "EVENT_TYPE_"),
        direction=enum_from_proto(
            Direction, proto_name(events_pb2.Direction, message.direction), "DIRECTION_"
        ),
        price=message.price,
        event_time=datetime_from_proto(message.event_time),
        ingest_time=optional_datetime(message, "ingest_time"),
        detect_time=optional_datetime(message, "detect_time"),
        volume=message.volume,
        percent_change=message.percent_change,
        label=message.label,
        market_status=enum_from_proto(
            MarketStatus, proto_name(events_pb2.MarketStatus, message.market_status), "MARKET_STATUS_"
        ),
        details=_details(message),
    )


def gap_from_proto(message: event_service_pb2.GapNotice) -> Gap:
    return Gap(
        from_seq=message.from_seq,
        to_seq=message.to_seq,
        missed_count=message.missed_count,
        reason=enum_from_proto(
            GapReason, proto_name(event_service_pb2.GapReason, message.reason), "GAP_REASON_"
        ),
        missed_count_is_upper_bound=message.missed_count_is_upper_bound,
    )


def dropped_from_proto(message: event_service_pb2.DropNotice) -> Dropped:
    return Dropped(
        dropped_count=message.dropped_count,
        first_dropped_seq=message.first_dropped_seq,
        last_dropped_seq=message.last_dropped_seq,
        total_dropped=message.total_dropped,
    )


def bar_interval_to_proto(interval: BarInterval) -> market_data_service_pb2.BarInterval.ValueType:
    return _BAR_INTERVALS[interval]


def bar_from_proto(message: market_data_service_pb2.Bar) -> Bar:
    return Bar(
        symbol=message.symbol,
        start_time=datetime_from_proto(message.start_time),
        open=message.open,
        high=message.high,
        low=message.low,
        close=message.close,
        volume=message.volume,
    )


def symbol_from_proto(message: universe_service_pb2.Symbol) -> Symbol:
    return Symbol(
        symbol=message.symbol,
        name=message.name,
        exchange=message.exchange,
        market=message.market,
        type=message.type,
        sector=message.sector,
        industry=message.industry,
        active=message.active,
        market_cap=message.market_cap,
        currency=message.currency,
    )


def universe_from_proto(message: universe_service_pb2.Universe) -> Universe:
    return Universe(
        name=message.name,
        description=message.description,
        kind=enum_name(proto_name(universe_service_pb2.UniverseKind, message.kind), "UNIVERSE_KIND_"),
        member_count=message.member_count,
        symbols=tuple(message.symbols),
    )


def watchlist_from_proto(message: universe_service_pb2.Watchlist) -> Watchlist:
    return Watchlist(
        watchlist_id=message.watchlist_id,
        name=message.name,
        symbols=tuple(message.symbols),
        create_time=optional_datetime(message, "create_time"),
        update_time=optional_datetime(message, "update_time"),
    )
