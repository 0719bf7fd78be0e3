"""Domain events to protos: every field lands where the contract says."""

from __future__ import annotations

import dataclasses

from event_factories import make_surge_details, make_trend_details
from factories import make_pattern

from tickstock.v1 import event_service_pb2, events_pb2
from tickstock_server.api.mappers._common import duration_from_ns, timestamp_from_ns
from tickstock_server.api.mappers.event_service import gap_response
from tickstock_server.api.mappers.events import encode_event, event_to_proto
from tickstock_server.delivery.replay import Gap, GapReason
from tickstock_server.domain.events import (
    Direction,
    Event,
    EventType,
    HighLowDetails,
    HighLowThresholds,
    MarketPeriod,
    MarketStatus,
    ReversalInfo,
    ReversalPattern,
    ReversalType,
)
from tickstock_server.domain.market_session import market_session_at
from tickstock_server.domain.pattern_events import pattern_event
from tickstock_server.domain.patterns import PatternIndicators, PatternTimeframe

TS_NS = 1_767_711_600_123_456_789


def _event(**overrides: object) -> Event:
    event = Event(
        event_id="AAPL-low-1",
        symbol="AAPL",
        type=EventType.LOW,
        direction=Direction.DOWN,
        price=99.5,
        ts_ns=TS_NS,
        market_status=MarketStatus.REGULAR,
        market_period=MarketPeriod.OPENING,
        detector_version="high_low/1",
        config_hash="0f0f",
        reversal=True,
        count=3,
        count_up=1,
        count_down=2,
        percent_change=-0.5,
        vwap=100.0,
        vwap_divergence=-0.5,
        volume=1200,
        relative_volume=2.5,
        label="LOW #2",
        details=HighLowDetails(
            session_high=101.0,
            session_low=99.5,
            previous_high=101.0,
            previous_low=99.8,
            significance_score=55.0,
            trend_flag=Direction.UP,
            surge_flag=None,
            reversal_info=ReversalInfo(
                type=ReversalType.V_TOP,
                pattern=ReversalPattern.M_TOP,
                time_span_ns=45_000_000_000,
                rapid=True,
                previous_type=EventType.HIGH,
                previous_price=101.0,
            ),
            thresholds=HighLowThresholds(min_price_change=0.05, min_percent_change=0.08, cooldown_ns=10**9),
        ),
    )
    return dataclasses.replace(event, **overrides)  # type: ignore[arg-type]


def test_timestamp_and_duration_keep_nanoseconds() -> None:
    assert timestamp_from_ns(TS_NS).ToNanoseconds() == TS_NS
    assert duration_from_ns(1_500_000_001).ToNanoseconds() == 1_500_000_001


def test_event_common_fields_map_to_proto() -> None:
    proto = event_to_proto(_event(), seq=7, ingest_ts_ns=TS_NS + 1000, detect_ts_ns=TS_NS + 2000)

    assert (proto.seq, proto.event_id, proto.symbol) == (7, "AAPL-low-1", "AAPL")
    assert proto.type == events_pb2.EVENT_TYPE_LOW
    assert proto.direction == events_pb2.DIRECTION_DOWN
    assert proto.event_time.ToNanoseconds() == TS_NS
    assert proto.ingest_time.ToNanoseconds() == TS_NS + 1000
    assert proto.detect_time.ToNanoseconds() == TS_NS + 2000
    assert (proto.count, proto.count_up, proto.count_down, proto.label) == (3, 1, 2, "LOW #2")
    assert proto.HasField("vwap")
    assert proto.vwap == 100.0
    assert proto.market_status == events_pb2.MARKET_STATUS_REGULAR
    assert proto.market_period == events_pb2.MARKET_PERIOD_OPENING
    assert proto.provenance.detector_version == "high_low/1"
    assert proto.provenance.config_hash == "0f0f"


def test_missing_vwap_is_absent_not_zero() -> None:
    proto = event_to_proto(_event(vwap=None), seq=1, ingest_ts_ns=0, detect_ts_ns=0)

    assert not proto.HasField("vwap")


def test_high_low_details_map_to_proto() -> None:
    details = event_to_proto(_event(), seq=1, ingest_ts_ns=0, detect_ts_ns=0).high_low

    assert (details.session_high, details.session_low, details.previous_low) == (101.0, 99.5, 99.8)
    assert details.trend_flag == events_pb2.DIRECTION_UP
    assert details.surge_flag == events_pb2.DIRECTION_UNSPECIFIED
    assert details.reversal_info.type == events_pb2.REVERSAL_TYPE_V_TOP
    assert details.reversal_info.pattern == events_pb2.REVERSAL_PATTERN_M_TOP
    assert details.reversal_info.time_span.ToNanoseconds() == 45_000_000_000
    assert details.reversal_info.previous_type == events_pb2.EVENT_TYPE_HIGH
    assert details.thresholds.cooldown.ToNanoseconds() == 10**9


def test_encode_event_is_the_proto_serialisation() -> None:
    encoded = encode_event(_event(), 9, 1, 2)

    assert events_pb2.Event.FromString(encoded) == event_to_proto(
        _event(), seq=9, ingest_ts_ns=1, detect_ts_ns=2
    )


def test_trend_details_map_to_proto() -> None:
    event = _event(type=EventType.TREND, direction=Direction.UP, details=make_trend_details())

    proto = event_to_proto(event, seq=1, ingest_ts_ns=0, detect_ts_ns=0)

    assert proto.WhichOneof("details") == "trend"
    details = proto.trend
    assert details.strength == events_pb2.TREND_STRENGTH_MODERATE
    assert (details.score, details.short_score, details.medium_score, details.long_score) == (
        0.05,
        0.08,
        0.04,
        0.03,
    )
    assert details.vwap_position == events_pb2.VWAP_POSITION_ABOVE
    assert details.age.ToNanoseconds() == 90 * 10**9
    assert details.thresholds.direction_threshold == 0.0225
    assert details.thresholds.strength_threshold == 0.0525
    assert details.thresholds.emission_interval.ToNanoseconds() == 90 * 10**9
    assert details.thresholds.min_points_per_window == 8


def test_trend_without_vwap_maps_to_unspecified_position() -> None:
    event = _event(type=EventType.TREND, details=make_trend_details(vwap_position=None))

    assert event_to_proto(event, seq=1, ingest_ts_ns=0, detect_ts_ns=0).trend.vwap_position == (
        events_pb2.VWAP_POSITION_UNSPECIFIED
    )


def test_surge_details_map_to_proto() -> None:
    event = _event(type=EventType.SURGE, direction=Direction.UP, details=make_surge_details())

    proto = event_to_proto(event, seq=1, ingest_ts_ns=0, detect_ts_ns=0)

    assert proto.WhichOneof("details") == "surge"
    details = proto.surge
    assert (details.magnitude, details.score, details.volume_multiplier) == (2.5, 100.0, 4.2)
    assert details.strength == events_pb2.SURGE_STRENGTH_STRONG
    assert details.trigger == events_pb2.SURGE_TRIGGER_PRICE_AND_VOLUME
    assert details.baseline_price == 146.34
    assert details.expire_time.ToNanoseconds() == make_surge_details().expire_ns
    assert (details.daily_count, details.description) == (1, "up price & volume")
    assert details.thresholds.mode == events_pb2.SURGE_MODE_STRICT
    assert details.thresholds.baseline_interval.ToNanoseconds() == 20 * 10**9
    assert (details.thresholds.min_percent_change, details.thresholds.min_volume_multiplier) == (1.6, 3.0)


def test_a_pattern_event_encodes_its_pattern_details() -> None:
    pattern = make_pattern(
        "AAPL:Bull_Flag:1:f-1",
        price=187.25,
        price_change_pct=-1.5,
        timeframe=PatternTimeframe.INTRADAY,
        indicators=PatternIndicators(relative_strength=1.3, rsi=44.0),
        flow_id="f-1",
    )
    event = pattern_event(pattern, market_session_at(TS_NS))

    proto = events_pb2.Event.FromString(encode_event(event, 12, TS_NS + 5, TS_NS + 7))

    assert (proto.seq, proto.event_id, proto.symbol) == (12, "AAPL:Bull_Flag:1:f-1", "AAPL")
    assert (proto.type, proto.direction) == (events_pb2.EVENT_TYPE_PATTERN, events_pb2.DIRECTION_DOWN)
    assert (proto.price, proto.volume, proto.label) == (187.25, 0, "PATTERN Bull_Flag")
    assert proto.event_time.ToNanoseconds() == pattern.detected_ns
    assert (proto.ingest_time.ToNanoseconds(), proto.detect_time.ToNanoseconds()) == (TS_NS + 5, TS_NS + 7)
    assert proto.provenance.detector_version == "tickstockpl"
    assert proto.WhichOneof("details") == "pattern"
    details = proto.pattern
    assert (details.pattern_id, details.pattern_type, details.flow_id) == (
        "AAPL:Bull_Flag:1:f-1",
        "Bull_Flag",
        "f-1",
    )
    assert (details.confidence, details.price_change) == (0.8, -1.5)
    assert details.expire_time.ToNanoseconds() == pattern.expires_ns
    assert details.timeframe == events_pb2.PATTERN_TIMEFRAME_INTRADAY
    assert details.source == events_pb2.PATTERN_SOURCE_PRODUCER
    assert (details.indicators.relative_strength, details.indicators.rsi) == (1.3, 44.0)
    assert not details.indicators.HasField("relative_volume")


def test_a_pattern_without_a_timeframe_encodes_it_unspecified() -> None:
    event = pattern_event(make_pattern(timeframe=None), market_session_at(TS_NS))

    proto = event_to_proto(event, seq=1, ingest_ts_ns=0, detect_ts_ns=0)

    assert proto.pattern.timeframe == events_pb2.PATTERN_TIMEFRAME_UNSPECIFIED


def test_a_gap_of_skipped_seqs_maps_to_an_upper_bound_missed_count() -> None:
    notice = gap_response(Gap(31, 1000, GapReason.NOT_PERSISTED, count_is_upper_bound=True)).gap_notice

    assert (notice.from_seq, notice.to_seq, notice.missed_count, notice.reason) == (
        31,
        1000,
        970,
        event_service_pb2.GAP_REASON_NOT_PERSISTED,
    )
    assert notice.missed_count_is_upper_bound


def test_an_exact_gap_maps_to_an_exact_missed_count() -> None:
    notice = gap_response(Gap(11, 120, GapReason.AGED_OUT)).gap_notice

    assert (notice.missed_count, notice.missed_count_is_upper_bound) == (110, False)
