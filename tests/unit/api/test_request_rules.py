"""The request limits declared in the protos, one test per kind of rule, checked as the interceptor does."""

from __future__ import annotations

import math

import protovalidate
import pytest
from google.protobuf import field_mask_pb2
from google.protobuf.message import Message
from protobuf import Oneof
from protovalidate import FieldPathElementPb, FieldPathPb

from tickstock.v1 import (
    common_pb2,
    event_service_pb2,
    events_pb2,
    market_data_service_pb2,
    pattern_service_pb2,
    universe_service_pb2,
)
from tickstock_server.api.validation import MAX_ECHO_CHARS, field_path, request_violations

VALIDATOR = protovalidate.Validator()


def _violations(request: Message) -> list[tuple[str, str]]:
    return [(v.field, v.description) for v in request_violations(VALIDATOR, request)]


def test_a_request_within_its_limits_has_no_violation() -> None:
    request = universe_service_pb2.ListSymbolsRequest(query="a" * 64, market="m" * 16, page_size=1000)

    assert _violations(request) == []


def test_a_string_longer_than_its_maximum_is_a_violation_of_that_field() -> None:
    request = universe_service_pb2.ListSymbolsRequest(query="a" * 1_000_000)

    assert _violations(request) == [("query", "must be at most 64 characters")]


def test_a_string_maximum_counts_characters_not_bytes() -> None:
    # 64 characters of two UTF-8 bytes each: within the limit.
    assert _violations(universe_service_pb2.ListSymbolsRequest(query="é" * 64)) == []


def test_a_list_longer_than_its_maximum_is_a_violation_of_the_list() -> None:
    request = pattern_service_pb2.ScanPatternsRequest(
        filter=pattern_service_pb2.PatternFilter(symbols=["AAPL"] * 2_001)
    )

    assert _violations(request) == [("filter.symbols", "must contain no more than 2000 item(s)")]


def test_an_overlong_list_item_is_a_violation_of_that_item() -> None:
    request = pattern_service_pb2.ScanPatternsRequest(
        filter=pattern_service_pb2.PatternFilter(symbols=["AAPL", "A" * 16])
    )

    assert _violations(request) == [("filter.symbols[1]", "must be at most 15 characters")]


def test_an_undefined_enum_value_is_a_violation() -> None:
    request = pattern_service_pb2.ScanPatternsRequest(sort_order=99)  # type: ignore[arg-type]

    assert _violations(request) == [("sort_order", "value must be one of the defined enum values")]


def test_an_undefined_enum_value_in_a_list_names_its_index() -> None:
    event_filter = event_service_pb2.EventFilter(event_types=[events_pb2.EVENT_TYPE_HIGH, 42])  # type: ignore[list-item]

    fields = [field for field, _ in _violations(event_service_pb2.StreamEventsRequest(filter=event_filter))]

    assert fields == ["filter.event_types[1]"]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_number_that_is_not_finite_is_a_violation(value: float) -> None:
    request = event_service_pb2.StreamEventsRequest(filter=event_service_pb2.EventFilter(min_price=value))

    assert ("filter.min_price", "must be finite") in _violations(request)


@pytest.mark.parametrize(
    ("value", "violated"), [(1.0, False), (math.nextafter(1.0, 2.0), True), (-0.0, False)]
)
def test_a_number_outside_its_range_is_a_violation(value: float, violated: bool) -> None:
    request = pattern_service_pb2.ScanPatternsRequest(
        filter=pattern_service_pb2.PatternFilter(min_confidence=value)
    )

    assert [field for field, _ in _violations(request)] == (["filter.min_confidence"] if violated else [])


@pytest.mark.parametrize(("page_size", "violated"), [(-1, True), (0, False), (10_000, False), (10_001, True)])
def test_an_integer_outside_its_range_is_a_violation(page_size: int, violated: bool) -> None:
    request = market_data_service_pb2.GetBarsRequest(page_size=page_size)

    assert [field for field, _ in _violations(request)] == (["page_size"] if violated else [])


@pytest.mark.parametrize(("seconds", "nanos", "violated"), [(60, 0, False), (60, 1, True), (0, -1, True)])
def test_a_duration_outside_its_range_is_a_violation(seconds: int, nanos: int, violated: bool) -> None:
    request = pattern_service_pb2.StreamAlertsRequest()
    request.heartbeat_interval.seconds, request.heartbeat_interval.nanos = seconds, nanos

    assert [field for field, _ in _violations(request)] == (["heartbeat_interval"] if violated else [])


@pytest.mark.parametrize(
    ("seconds", "violated"), [(-1, True), (0, False), (4_102_444_799, False), (4_102_444_800, True)]
)
def test_a_time_outside_1970_to_2099_is_a_violation(seconds: int, violated: bool) -> None:
    request = market_data_service_pb2.GetBarsRequest()
    request.end_time.seconds = seconds

    assert [field for field, _ in _violations(request)] == (["end_time"] if violated else [])


@pytest.mark.parametrize(
    ("paths", "violated"),
    [
        ([], False),
        (["name", "symbols"], False),
        (["watchlist_id"], True),
        (["name", "name", "symbols"], True),  # at most two paths
    ],
)
def test_an_update_mask_holds_at_most_the_two_updatable_paths(paths: list[str], violated: bool) -> None:
    request = universe_service_pb2.UpdateWatchlistRequest(update_mask=field_mask_pb2.FieldMask(paths=paths))

    fields = {field for field, _ in _violations(request)}

    assert fields == ({"update_mask"} if violated else set())


def test_a_nested_field_is_named_by_its_full_path() -> None:
    subscription = pattern_service_pb2.AlertSubscription(
        quiet_hours=pattern_service_pb2.QuietHours(start=common_pb2.TimeOfDay(hours=24))
    )

    fields = [
        field
        for field, _ in _violations(
            pattern_service_pb2.CreateAlertSubscriptionRequest(subscription=subscription)
        )
    ]

    assert fields == ["subscription.quiet_hours.start.hours"]


def test_every_violation_of_a_request_is_reported_at_once() -> None:
    request = universe_service_pb2.ListSymbolsRequest(query="q" * 65, type="t" * 17, page_size=-1)

    assert [field for field, _ in _violations(request)] == ["query", "type", "page_size"]


def test_a_violation_never_quotes_the_value() -> None:
    secret_like = "Z" * 70 + "tsk_not_a_real_key"

    descriptions = [d for _, d in _violations(universe_service_pb2.ListSymbolsRequest(query=secret_like))]

    assert descriptions == ["must be at most 64 characters"]


def test_a_map_key_in_a_path_is_quoted_and_cut_short() -> None:
    key = FieldPathElementPb(field_name="labels", subscript=Oneof("string_key", "k" * 1_000))
    violation = protovalidate.Violation(
        field=FieldPathPb(elements=[FieldPathElementPb(field_name="filter"), key])
    )

    path = field_path(violation)

    assert path.startswith('filter.labels["kkk')
    assert len(path) == len('filter.labels[""]') + MAX_ECHO_CHARS
