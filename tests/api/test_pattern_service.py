"""PatternService over the in-process server: scan paging and filters, stats, and the pattern stream.

The alert subscription RPCs and the alert stream are in `test_pattern_alerts.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from api_server import ServerFactory
from pattern_api import NOW_NS, PATTERNS, PatternApi, make_pattern, start_patterns, violations

from tickstock.v1 import common_pb2, events_pb2
from tickstock.v1 import pattern_service_pb2 as pb
from tickstock_server.domain.patterns import Pattern

DESC, ASC = common_pb2.SORT_ORDER_DESCENDING, common_pb2.SORT_ORDER_ASCENDING
EVERY_CONFIDENCE = pb.PatternFilter(min_confidence=0.0)


@pytest.fixture
async def patterns(start_api_server: ServerFactory) -> PatternApi:
    """A PatternService whose cache holds `PATTERNS`."""
    started = await start_patterns(start_api_server)
    started.put(*PATTERNS)
    return started


async def _scan_all(patterns: PatternApi, request: pb.ScanPatternsRequest) -> tuple[list[str], set[int]]:
    """Every page of a scan: the pattern ids in order, and the total sizes the pages reported."""
    ids: list[str] = []
    totals: set[int] = set()
    while True:
        page = await patterns.stub.ScanPatterns(request, metadata=patterns.alice)
        ids += [pattern.details.pattern_id for pattern in page.patterns]
        totals.add(page.total_size)
        if not page.next_page_token:
            return ids, totals
        request.page_token = page.next_page_token


async def _scan_error(patterns: PatternApi, request: pb.ScanPatternsRequest) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await patterns.stub.ScanPatterns(request, metadata=patterns.alice)
    return raised.value


def _indicator(name: str) -> Callable[[Pattern], float]:
    def key(pattern: Pattern) -> float:
        value = getattr(pattern.indicators, name)
        return 1.0 if value is None else float(value)  # missing counts as 1.0

    return key


SORT_KEYS: dict[int, Callable[[Pattern], Any]] = {
    pb.PATTERN_SORT_FIELD_CONFIDENCE: lambda p: p.confidence,
    pb.PATTERN_SORT_FIELD_DETECT_TIME: lambda p: p.detected_ns,
    pb.PATTERN_SORT_FIELD_SYMBOL: lambda p: p.symbol,
    pb.PATTERN_SORT_FIELD_RELATIVE_STRENGTH: _indicator("relative_strength"),
    pb.PATTERN_SORT_FIELD_RELATIVE_VOLUME: _indicator("relative_volume"),
}


# --- ScanPatterns: paging ------------------------------------------------------------------------------


@pytest.mark.parametrize("sort_order", [DESC, ASC], ids=["descending", "ascending"])
@pytest.mark.parametrize("sort_by", list(SORT_KEYS), ids=lambda field: pb.PatternSortField.Name(field))
@pytest.mark.parametrize("page_size", [1, 3, 100])
async def test_pages_return_every_pattern_exactly_once_in_order(
    patterns: PatternApi,
    sort_by: pb.PatternSortField.ValueType,
    sort_order: common_pb2.SortOrder.ValueType,
    page_size: int,
) -> None:
    # Arrange: ties are broken by pattern id, in the same direction
    request = pb.ScanPatternsRequest(
        filter=EVERY_CONFIDENCE, sort_by=sort_by, sort_order=sort_order, page_size=page_size
    )
    key = SORT_KEYS[sort_by]
    expected = sorted(PATTERNS, key=lambda p: (key(p), p.pattern_id), reverse=sort_order == DESC)

    # Act
    ids, totals = await _scan_all(patterns, request)

    # Assert
    assert ids == [p.pattern_id for p in expected]
    assert totals == {len(PATTERNS)}


async def test_a_page_token_continues_with_another_page_size(patterns: PatternApi) -> None:
    # Arrange
    first = await patterns.stub.ScanPatterns(
        pb.ScanPatternsRequest(filter=EVERY_CONFIDENCE, page_size=4), metadata=patterns.alice
    )

    # Act
    rest, _ = await _scan_all(
        patterns,
        pb.ScanPatternsRequest(filter=EVERY_CONFIDENCE, page_size=100, page_token=first.next_page_token),
    )

    # Assert
    assert len(first.patterns) + len(rest) == len(PATTERNS)
    assert not {p.details.pattern_id for p in first.patterns} & set(rest)


@pytest.mark.parametrize(
    "other",
    [
        pb.ScanPatternsRequest(filter=pb.PatternFilter(min_confidence=0.1)),
        pb.ScanPatternsRequest(filter=pb.PatternFilter(min_confidence=0.0, symbols=["AAPL"])),
        pb.ScanPatternsRequest(filter=EVERY_CONFIDENCE, sort_order=ASC),
        pb.ScanPatternsRequest(filter=EVERY_CONFIDENCE, sort_by=pb.PATTERN_SORT_FIELD_SYMBOL),
        pb.ScanPatternsRequest(filter=EVERY_CONFIDENCE, sort_by=pb.PATTERN_SORT_FIELD_DETECT_TIME),
    ],
    ids=["other confidence", "other symbols", "other order", "other sort field", "int-keyed sort field"],
)
async def test_a_page_token_of_another_filter_or_order_is_refused(
    patterns: PatternApi, other: pb.ScanPatternsRequest
) -> None:
    # Arrange
    first = await patterns.stub.ScanPatterns(
        pb.ScanPatternsRequest(filter=EVERY_CONFIDENCE, page_size=2), metadata=patterns.alice
    )
    other.page_token = first.next_page_token

    # Act
    error = await _scan_error(patterns, other)

    # Assert
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(error) == ["page_token"]
    assert "page_token: not a token of this request's filter and order" in (error.details() or "")


# --- ScanPatterns: filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scan_filter", "expected"),
    [
        (pb.PatternFilter(), {"p01", "p02", "p03", "p04", "p05", "p07", "p08", "p09", "p10", "p11"}),
        (pb.PatternFilter(symbols=[" aapl", "MSFT"]), {"p01", "p02", "p07", "p09"}),
        (pb.PatternFilter(universes=["dow3"]), {"p01", "p02", "p03", "p07", "p09", "p10"}),
        (pb.PatternFilter(universes=["chips"], symbols=["JPM"]), {"p04", "p08", "p11"}),
        (pb.PatternFilter(pattern_types=["Hammer", "Cup"]), {"p04", "p08"}),
        (pb.PatternFilter(min_confidence=0.9), {"p01", "p04", "p11"}),
        (pb.PatternFilter(min_confidence=0.0, symbols=["AMD"]), {"p06"}),
        (
            pb.PatternFilter(
                timeframes=[events_pb2.PATTERN_TIMEFRAME_COMBO, events_pb2.PATTERN_TIMEFRAME_INTRADAY]
            ),
            {"p02", "p03", "p09", "p11"},
        ),
        (pb.PatternFilter(min_rsi=50, max_rsi=60), {"p01", "p03", "p05", "p08", "p09", "p10", "p11"}),
        (pb.PatternFilter(min_relative_strength=1.2), {"p01", "p07"}),
        (pb.PatternFilter(min_relative_volume=1.5, pattern_types=["Doji"]), {"p07"}),
        (pb.PatternFilter(symbols=["GOOG"]), set()),
    ],
    ids=[
        "default confidence",
        "symbols",
        "universe",
        "universe and symbols",
        "pattern types",
        "min confidence",
        "confidence zero",
        "timeframes",
        "rsi range",
        "relative strength",
        "relative volume and type",
        "no match",
    ],
)
async def test_filters_select_the_matching_patterns(
    patterns: PatternApi, scan_filter: pb.PatternFilter, expected: set[str]
) -> None:
    # Act
    ids, totals = await _scan_all(patterns, pb.ScanPatternsRequest(filter=scan_filter, page_size=4))

    # Assert
    assert sorted(ids) == sorted(expected)
    assert totals == {len(expected)}


@pytest.mark.parametrize(
    ("request_fields", "expected"),
    [
        ({"filter": pb.PatternFilter(symbols=["AAPL", "not a ticker"])}, ["filter.symbols[1]"]),
        ({"filter": pb.PatternFilter(pattern_types=["P" * 65])}, ["filter.pattern_types[0]"]),
        ({"filter": pb.PatternFilter(min_confidence=1.5)}, ["filter.min_confidence"]),
        ({"filter": pb.PatternFilter(min_relative_volume=-1)}, ["filter.min_relative_volume"]),
        ({"filter": pb.PatternFilter(min_rsi=80, max_rsi=20)}, ["filter.max_rsi"]),
        ({"filter": pb.PatternFilter(timeframes=[9])}, ["filter.timeframes[0]"]),
        ({"filter": pb.PatternFilter(symbols=[f"S{i}" for i in range(2_001)])}, ["filter.symbols"]),
        ({"page_size": 101}, ["page_size"]),
        ({"sort_by": 99}, ["sort_by"]),
        ({"sort_order": 99}, ["sort_order"]),
        ({"page_token": "garbage"}, ["page_token"]),
        (
            {"filter": pb.PatternFilter(min_confidence=-1), "page_size": 500, "page_token": "x"},
            ["filter.min_confidence", "page_size"],  # the proto's rules first; the token is not read
        ),
        (
            {"filter": pb.PatternFilter(symbols=["AAPL", "not a ticker"]), "page_token": "x"},
            ["filter.symbols[1]", "page_token"],
        ),
    ],
)
async def test_invalid_scan_is_invalid_argument_with_field_violations(
    patterns: PatternApi, request_fields: dict[str, Any], expected: list[str]
) -> None:
    # Act
    error = await _scan_error(patterns, pb.ScanPatternsRequest(**request_fields))

    # Assert
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(error) == expected


async def test_scan_of_an_unknown_universe_is_not_found(patterns: PatternApi) -> None:
    # Act
    error = await _scan_error(patterns, pb.ScanPatternsRequest(filter=pb.PatternFilter(universes=["nope"])))

    # Assert
    assert error.code() == grpc.StatusCode.NOT_FOUND


# --- GetPatternStats ----------------------------------------------------------------------------------


async def test_stats_count_cached_patterns_by_type_and_scans(patterns: PatternApi) -> None:
    # Arrange
    await patterns.stub.ScanPatterns(pb.ScanPatternsRequest(), metadata=patterns.alice)

    # Act
    stats = await patterns.stub.GetPatternStats(pb.GetPatternStatsRequest(), metadata=patterns.alice)

    # Assert
    assert stats.cached_patterns == len(PATTERNS)
    assert dict(stats.patterns_by_type) == {"Bull_Flag": 4, "Doji": 5, "Hammer": 2}
    assert stats.scans == 1
    assert stats.last_event_time.ToNanoseconds() == NOW_NS
    assert not stats.fallback_active
    assert not stats.HasField("producer_heartbeat_age")


# --- StreamPatterns -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stream_filter", "other", "matching"),
    [
        (pb.PatternFilter(symbols=["MSFT"]), make_pattern("n1", "AAPL"), make_pattern("n2", "MSFT")),
        (pb.PatternFilter(universes=["chips"]), make_pattern("n1", "IBM"), make_pattern("n2", "AMD")),
        (
            pb.PatternFilter(pattern_types=["Doji"], min_confidence=0.75),
            make_pattern("n1", pattern_type="Doji", confidence=0.7),
            make_pattern("n2", pattern_type="Doji", confidence=0.8),
        ),
    ],
    ids=["symbols", "universe", "type and confidence"],
)
async def test_a_matching_pattern_put_into_the_cache_reaches_the_stream(
    patterns: PatternApi, stream_filter: pb.PatternFilter, other: Pattern, matching: Pattern
) -> None:
    # Arrange: the first heartbeat says the stream listens
    request = pb.StreamPatternsRequest(filter=stream_filter)
    request.heartbeat_interval.FromSeconds(1)
    call = patterns.stub.StreamPatterns(request, metadata=patterns.alice)
    assert (await call.read()).WhichOneof("payload") == "heartbeat"

    # Act
    patterns.put(other, matching)
    received = await call.read()
    call.cancel()

    # Assert
    assert received.WhichOneof("payload") == "pattern"
    assert (received.pattern.symbol, received.pattern.details.pattern_id) == (matching.symbol, "n2")


@pytest.mark.parametrize(
    ("request_fields", "expected"),
    [
        ({"heartbeat_interval": {"nanos": 500_000_000}}, ["heartbeat_interval"]),
        ({"heartbeat_interval": {"seconds": 61}}, ["heartbeat_interval"]),
        ({"filter": pb.PatternFilter(symbols=["bad symbol"])}, ["filter.symbols[0]"]),
        (
            {"filter": pb.PatternFilter(min_confidence=2, max_rsi=101)},
            ["filter.min_confidence", "filter.max_rsi"],
        ),
        ({"filter": pb.PatternFilter(universes=[f"u{i}" for i in range(21)])}, ["filter.universes"]),
    ],
)
async def test_invalid_pattern_stream_is_invalid_argument_with_field_violations(
    patterns: PatternApi, request_fields: dict[str, Any], expected: list[str]
) -> None:
    # Arrange
    call = patterns.stub.StreamPatterns(pb.StreamPatternsRequest(**request_fields), metadata=patterns.alice)

    # Act
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call.read()

    # Assert
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(raised.value) == expected


async def test_pattern_stream_of_an_unknown_universe_is_not_found(patterns: PatternApi) -> None:
    # Arrange
    call = patterns.stub.StreamPatterns(
        pb.StreamPatternsRequest(filter=pb.PatternFilter(universes=["nope"])), metadata=patterns.alice
    )

    # Act
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call.read()

    # Assert
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
