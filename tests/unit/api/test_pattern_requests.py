"""PatternService requests parse into typed filters and queries; scan page tokens round-trip exactly."""

from __future__ import annotations

from typing import Any

import pytest

from tickstock.v1 import common_pb2, events_pb2
from tickstock.v1 import pattern_service_pb2 as pb
from tickstock_server.api.mappers import pattern_service as pm
from tickstock_server.api.mappers._common import encode_page_token, request_binding
from tickstock_server.domain.patterns import PatternTimeframe
from tickstock_server.errors import FieldViolation, InvalidRequestError
from tickstock_server.patterns.scan import PatternFilterSpec, ScanCursor, ScanQuery, ScanSortField


def _scan(page_token: str = "", **fields: Any) -> pb.ScanPatternsRequest:
    return pb.ScanPatternsRequest(page_token=page_token, **fields)


def _violations(request: pb.ScanPatternsRequest) -> list[tuple[str, str]]:
    with pytest.raises(InvalidRequestError) as caught:
        pm.scan_query_from_proto(request, None)
    return [(violation.field, violation.description) for violation in caught.value.violations]


# --- filters ------------------------------------------------------------------------------------------


def test_an_empty_filter_selects_everything_above_the_default_confidence() -> None:
    # Arrange
    violations: list[FieldViolation] = []

    # Act
    spec = pm.pattern_filter_from_proto(pb.PatternFilter(), None, violations, min_confidence=0.5)

    # Assert
    assert spec == PatternFilterSpec(min_confidence=0.5)
    assert violations == []


def test_every_filter_field_reaches_the_spec() -> None:
    # Arrange
    proto = pb.PatternFilter(
        symbols=[" aapl ", "MSFT"],
        universes=["chips"],
        pattern_types=["Doji", " ", "Bull_Flag "],
        min_confidence=0.7,
        min_relative_strength=1.2,
        min_relative_volume=2.0,
        min_rsi=30.0,
        max_rsi=70.0,
        timeframes=[events_pb2.PATTERN_TIMEFRAME_DAILY, events_pb2.PATTERN_TIMEFRAME_COMBO],
    )
    violations: list[FieldViolation] = []

    # Act
    spec = pm.pattern_filter_from_proto(proto, frozenset({"NVDA"}), violations, min_confidence=0.5)

    # Assert
    assert violations == []
    assert spec == PatternFilterSpec(
        pattern_types=frozenset({"Doji", "Bull_Flag"}),
        symbols=frozenset({"AAPL", "MSFT", "NVDA"}),
        min_confidence=0.7,
        min_relative_strength=1.2,
        min_relative_volume=2.0,
        min_rsi=30.0,
        max_rsi=70.0,
        timeframes=frozenset({PatternTimeframe.DAILY, PatternTimeframe.COMBO}),
    )


def test_universes_that_expand_to_nothing_select_no_symbol() -> None:
    # Act
    spec = pm.pattern_filter_from_proto(
        pb.PatternFilter(universes=["empty"]), frozenset(), [], min_confidence=0.0
    )

    # Assert
    assert spec.symbols == frozenset()


def test_every_bad_filter_field_is_a_violation_in_field_order() -> None:
    # Arrange
    proto = pb.PatternFilter(
        symbols=["AAPL", "not a ticker"],
        min_confidence=1.5,
        min_relative_strength=-1.0,
        min_relative_volume=float("nan"),
        min_rsi=80.0,
        max_rsi=120.0,
        timeframes=[events_pb2.PATTERN_TIMEFRAME_INTRADAY, 9],  # type: ignore[list-item]
    )
    violations: list[FieldViolation] = []

    # Act
    pm.pattern_filter_from_proto(proto, None, violations, min_confidence=0.5)

    # Assert
    assert [violation.field for violation in violations] == [
        "filter.symbols[1]",
        "filter.min_confidence",
        "filter.min_relative_strength",
        "filter.min_relative_volume",
        "filter.max_rsi",
        "filter.timeframes[1]",
    ]


def test_a_stream_filter_without_confidence_selects_every_confidence() -> None:
    # Act
    query = pm.stream_query_from_proto(pb.StreamPatternsRequest(), None)

    # Assert
    assert query == ScanQuery(min_confidence=0.0)


# --- scan requests ------------------------------------------------------------------------------------


def test_a_scan_request_becomes_the_query_of_its_filter_order_and_page() -> None:
    # Arrange
    request = _scan(
        filter=pb.PatternFilter(symbols=["IBM"]),
        sort_by=pb.PATTERN_SORT_FIELD_SYMBOL,
        sort_order=common_pb2.SORT_ORDER_ASCENDING,
        page_size=7,
    )

    # Act
    query = pm.scan_query_from_proto(request, None)

    # Assert
    assert query == ScanQuery(
        symbols=frozenset({"IBM"}), sort_by=ScanSortField.SYMBOL, descending=False, page_size=7
    )


def test_request_violations_follow_the_filters_in_order() -> None:
    # Arrange
    request = _scan(
        "garbage",
        filter=pb.PatternFilter(min_confidence=2.0),
    )

    # Act
    fields = [field for field, _ in _violations(request)]

    # Assert: the sort and page size ranges are the proto's rules, checked before any mapper runs
    assert fields == ["filter.min_confidence", "page_token"]


# --- page tokens --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort_field", "sort_by", "key"),
    [
        (pb.PATTERN_SORT_FIELD_CONFIDENCE, ScanSortField.CONFIDENCE, 0.1 + 0.2),
        (pb.PATTERN_SORT_FIELD_DETECT_TIME, ScanSortField.DETECTED, 1_767_711_600_123_456_789),
        (pb.PATTERN_SORT_FIELD_SYMBOL, ScanSortField.SYMBOL, "BRK.B"),
        (pb.PATTERN_SORT_FIELD_RELATIVE_STRENGTH, ScanSortField.RELATIVE_STRENGTH, 1e-300),
        (pb.PATTERN_SORT_FIELD_RELATIVE_VOLUME, ScanSortField.RELATIVE_VOLUME, 123456.789),
    ],
)
def test_a_page_token_continues_at_its_cursor_exactly(
    sort_field: pb.PatternSortField.ValueType, sort_by: ScanSortField, key: float | int | str
) -> None:
    # Arrange
    first = _scan(filter=pb.PatternFilter(symbols=["AAPL"]), sort_by=sort_field, page_size=2)
    cursor = ScanCursor(sort_key=key, pattern_id="p-1")
    token = pm.page_token(first, cursor, sort_by)
    following = _scan(token, filter=pb.PatternFilter(symbols=["AAPL"]), sort_by=sort_field, page_size=5)

    # Act
    query = pm.scan_query_from_proto(following, None)

    # Assert
    assert query.after == cursor
    assert type(query.after.sort_key) is type(key)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "other",
    [
        {"filter": pb.PatternFilter(symbols=["MSFT"])},
        {"filter": pb.PatternFilter(symbols=["AAPL"]), "sort_order": common_pb2.SORT_ORDER_ASCENDING},
        {"filter": pb.PatternFilter(symbols=["AAPL"]), "sort_by": pb.PATTERN_SORT_FIELD_DETECT_TIME},
    ],
    ids=["other filter", "other order", "other sort field"],
)
def test_a_page_token_of_another_filter_or_order_is_refused(other: dict[str, Any]) -> None:
    # Arrange
    first = _scan(filter=pb.PatternFilter(symbols=["AAPL"]))
    token = pm.page_token(first, ScanCursor(sort_key=0.9, pattern_id="p-1"), ScanSortField.CONFIDENCE)

    # Act
    violations = _violations(_scan(token, **other))

    # Assert
    assert violations == [("page_token", "not a token of this request's filter and order")]


def test_a_forged_token_with_a_nan_key_is_refused_on_page_token() -> None:
    # Arrange: a token the codec accepts, with a key no scan can mean
    request = _scan()
    token = encode_page_token(request_binding(request), ("nan", "p-1"))

    # Act
    violations = _violations(_scan(token))

    # Assert
    assert [field for field, _ in violations] == ["page_token"]


# --- heartbeats ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "expected"), [(0, pm.DEFAULT_HEARTBEAT_S), (1, 1.0), (60, 60.0)])
def test_heartbeat_interval_in_range_is_used(seconds: int, expected: float) -> None:
    # Arrange
    request = pb.StreamAlertsRequest(heartbeat_interval={"seconds": seconds})

    # Act
    heartbeat_s = pm.heartbeat_s_from_proto(request.heartbeat_interval)

    # Assert
    assert heartbeat_s == expected


@pytest.mark.parametrize("seconds", [-1, 61])
def test_heartbeat_interval_out_of_range_is_invalid(seconds: int) -> None:
    # Arrange
    request = pb.StreamAlertsRequest(heartbeat_interval={"seconds": seconds})

    # Act
    with pytest.raises(InvalidRequestError) as caught:
        pm.heartbeat_s_from_proto(request.heartbeat_interval)

    # Assert
    assert [violation.field for violation in caught.value.violations] == ["heartbeat_interval"]
