"""EventFilter: every field of `tickstock.v1.EventFilter` survives the round trip, unset ones stay unset."""

from __future__ import annotations

import dataclasses

import pytest

from tickstock.v1 import event_service_pb2, events_pb2
from tickstock_client import Direction, EventFilter, EventType, SurgeStrength, TrendStrength
from tickstock_client._proto import event_filter_from_proto, event_filter_to_proto

FULL = EventFilter(
    symbols=("AAPL", "NVDA"),
    universes=("sp500",),
    watchlist_ids=("wl-1",),
    event_types=(EventType.TREND, EventType.PATTERN),
    directions=(Direction.UP,),
    min_significance=40.0,
    min_trend_strength=TrendStrength.MODERATE,
    min_surge_strength=SurgeStrength.STRONG,
    min_price=5.0,
    max_price=500.0,
    min_volume=100,
    max_volume=1_000_000,
    min_pattern_confidence=0.75,
)


def test_every_proto_field_has_a_model_field_of_the_same_name() -> None:
    proto_fields = {field.name for field in event_service_pb2.EventFilter.DESCRIPTOR.fields}
    model_fields = {field.name for field in dataclasses.fields(EventFilter)}

    assert proto_fields == model_fields


def test_a_full_filter_round_trips_through_its_message() -> None:
    message = event_filter_to_proto(FULL)

    assert event_filter_from_proto(message) == FULL
    assert message.min_trend_strength == events_pb2.TREND_STRENGTH_MODERATE
    assert message.min_surge_strength == events_pb2.SURGE_STRENGTH_STRONG
    assert message.min_pattern_confidence == 0.75


def test_an_empty_filter_sets_no_minimum_and_reads_back_empty() -> None:
    message = event_filter_to_proto(EventFilter())

    assert message.min_trend_strength == events_pb2.TREND_STRENGTH_UNSPECIFIED
    assert message.min_surge_strength == events_pb2.SURGE_STRENGTH_UNSPECIFIED
    assert not message.HasField("min_pattern_confidence")
    assert event_filter_from_proto(message) == EventFilter()


def test_a_zero_minimum_is_kept_apart_from_no_minimum() -> None:
    message = event_filter_to_proto(EventFilter(min_pattern_confidence=0.0, min_significance=0.0))

    assert message.HasField("min_pattern_confidence")
    assert event_filter_from_proto(message) == EventFilter(min_pattern_confidence=0.0, min_significance=0.0)


@pytest.mark.parametrize(
    ("field", "number", "expected"),
    [("min_trend_strength", 9, TrendStrength.UNKNOWN), ("min_surge_strength", 9, SurgeStrength.UNKNOWN)],
)
def test_a_strength_this_client_does_not_know_reads_as_unknown(
    field: str, number: int, expected: TrendStrength | SurgeStrength
) -> None:
    message = event_service_pb2.EventFilter()
    setattr(message, field, number)

    assert getattr(event_filter_from_proto(message), field) is expected
