"""Scan semantics: ScanQuery validation and matching; PatternCache.scan's filters, sorts and keyset paging.

The golden table runs on the 20-event fixture of the original test suite (`multiple_pattern_events`);
its expected ids are worked out by hand from the fixture's formulas (the value table is in
`fixture_patterns`' docstring). The property test compares every page of random scans with a naive
reference written here, independently of `ScanQuery.matches` and of the cache's indexes.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from factories import HOUR_NS, NS_PER_S, PATTERN_NOW_NS, make_pattern
from hypothesis import given, settings
from hypothesis import strategies as st

from tickstock_server.domain.patterns import Pattern, PatternIndicators, PatternTimeframe
from tickstock_server.patterns import cache as cache_module
from tickstock_server.patterns.cache import PatternCache
from tickstock_server.patterns.scan import ScanCursor, ScanPage, ScanQuery, ScanSortField, cursor_after

NOW_NS = PATTERN_NOW_NS
SYMBOLS = ("AAPL", "GOOGL", "MSFT", "TSLA", "NVDA")
TYPES = ("Weekly_Breakout", "Bull_Flag", "Volume_Spike", "Support_Test", "Momentum_Shift")
DAILY, INTRADAY, COMBO = PatternTimeframe.DAILY, PatternTimeframe.INTRADAY, PatternTimeframe.COMBO
CONFIDENCE, DETECTED, SYMBOL = ScanSortField.CONFIDENCE, ScanSortField.DETECTED, ScanSortField.SYMBOL
RS, RV = ScanSortField.RELATIVE_STRENGTH, ScanSortField.RELATIVE_VOLUME


def fixture_patterns() -> list[Pattern]:
    """`multiple_pattern_events`: pattern i (id "pNN") of 20, all current at NOW_NS.

    i  symbol type            conf rs   rv  rsi tf        i  symbol type            conf rs   rv  rsi tf
    0  AAPL   Weekly_Breakout 0.6  0.80 1.0 40  daily     10 AAPL   Weekly_Breakout 0.8  1.30 2.0 60  daily
    1  GOOGL  Bull_Flag       0.7  0.85 1.1 42  intraday  11 GOOGL  Bull_Flag       0.9  1.35 2.1 62  intraday
    2  MSFT   Volume_Spike    0.8  0.90 1.2 44  daily     12 MSFT   Volume_Spike    0.6  1.40 2.2 64  daily
    3  TSLA   Support_Test    0.9  0.95 1.3 46  intraday  13 TSLA   Support_Test    0.7  1.45 2.3 66  intraday
    4  NVDA   Momentum_Shift  0.6  1.00 1.4 48  daily     14 NVDA   Momentum_Shift  0.8  1.50 2.4 68  daily
    5  AAPL   Weekly_Breakout 0.7  1.05 1.5 50  intraday  15 AAPL   Weekly_Breakout 0.9  1.55 2.5 70  intraday
    6  GOOGL  Bull_Flag       0.8  1.10 1.6 52  daily     16 GOOGL  Bull_Flag       0.6  1.60 2.6 72  daily
    7  MSFT   Volume_Spike    0.9  1.15 1.7 54  intraday  17 MSFT   Volume_Spike    0.7  1.65 2.7 74  intraday
    8  TSLA   Support_Test    0.6  1.20 1.8 56  daily     18 TSLA   Support_Test    0.8  1.70 2.8 76  daily
    9  NVDA   Momentum_Shift  0.7  1.25 1.9 58  intraday  19 NVDA   Momentum_Shift  0.9  1.75 2.9 78  intraday

    Detected 60 * i seconds before NOW_NS (p00 is the newest). Values are rounded to the decimals shown, as
    the fixture's formulas mean them (0.6 + 3 * 0.1 would otherwise be 0.9000000000000001).
    """
    return [
        make_pattern(
            f"p{i:02d}",
            symbol=SYMBOLS[i % 5],
            pattern_type=TYPES[i % 5],
            confidence=round(0.6 + (i % 4) * 0.1, 2),
            price=100.0 + 5 * i,
            price_change_pct=round(-2.0 + 0.2 * i, 2),
            detected_ns=NOW_NS - 60 * i * NS_PER_S,
            expires_ns=NOW_NS + HOUR_NS,
            timeframe=DAILY if i % 2 == 0 else INTRADAY,
            indicators=PatternIndicators(
                relative_strength=round(0.8 + 0.05 * i, 2),
                relative_volume=round(1.0 + 0.1 * i, 2),
                rsi=40.0 + 2 * i,
            ),
        )
        for i in range(20)
    ]


@pytest.fixture
def fixture_cache() -> PatternCache:
    cache = PatternCache()
    for pattern in fixture_patterns():
        cache.put(pattern)
    return cache


def ids(page: ScanPage) -> list[str]:
    return [pattern.pattern_id for pattern in page.patterns]


def p(*numbers: int) -> list[str]:
    return [f"p{n:02d}" for n in numbers]


# --- golden table: filters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Defaults (confidence >= 0.5, rs >= 0, rv >= 0, RSI 0..100) keep all 20; newest first.
        (ScanQuery(), p(*range(20))),
        (ScanQuery(pattern_types=frozenset({"Bull_Flag"})), p(1, 6, 11, 16)),
        (ScanQuery(pattern_types=frozenset({"Bull_Flag", "Doji"})), p(1, 6, 11, 16)),
        (ScanQuery(symbols=frozenset({"AAPL", "TSLA"})), p(0, 3, 5, 8, 10, 13, 15, 18)),
        (ScanQuery(symbols=frozenset({"IBM"})), []),
        (ScanQuery(symbols=frozenset()), []),
        (ScanQuery(min_confidence=0.8), p(2, 3, 6, 7, 10, 11, 14, 15, 18, 19)),
        (ScanQuery(min_confidence=0.95), []),
        (ScanQuery(min_confidence=0.0), p(*range(20))),
        (ScanQuery(min_relative_strength=1.5), p(14, 15, 16, 17, 18, 19)),
        (ScanQuery(min_relative_volume=2.5), p(15, 16, 17, 18, 19)),
        (ScanQuery(min_rsi=50.0, max_rsi=60.0), p(5, 6, 7, 8, 9, 10)),
        (ScanQuery(min_rsi=50.0, max_rsi=50.0), p(5)),
        (ScanQuery(min_rsi=79.0), []),
        (ScanQuery(timeframes=frozenset({DAILY})), p(0, 2, 4, 6, 8, 10, 12, 14, 16, 18)),
        (ScanQuery(timeframes=frozenset({DAILY, INTRADAY})), p(*range(20))),
        (ScanQuery(timeframes=frozenset({COMBO})), []),
        # Types Volume_Spike/Support_Test: 2 3 7 8 12 13 17 18; intraday: 3 7 13 17; conf >= 0.8: 3 7.
        (
            ScanQuery(
                pattern_types=frozenset({"Volume_Spike", "Support_Test"}),
                min_confidence=0.8,
                timeframes=frozenset({INTRADAY}),
            ),
            p(3, 7),
        ),
        # AAPL: 0 5 10 15; rs >= 1.0: 5 10 15; rsi <= 65: 5 10.
        (ScanQuery(symbols=frozenset({"AAPL"}), min_relative_strength=1.0, max_rsi=65.0), p(5, 10)),
    ],
)
def test_fixture_filter_returns_hand_computed_patterns(
    fixture_cache: PatternCache, query: ScanQuery, expected: list[str]
) -> None:
    # Arrange: newest first, one page holding everything
    query = ScanQuery(**{**_fields(query), "sort_by": DETECTED, "descending": True, "page_size": 100})

    # Act
    page = fixture_cache.scan(query, NOW_NS)

    # Assert
    assert ids(page) == expected
    assert page.total_size == len(expected)
    assert page.next_cursor is None


# --- golden table: sorts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort_by", "descending", "expected"),
    [
        # Ties are broken by id in the sort's direction.
        (CONFIDENCE, True, p(19, 15, 11, 7, 3, 18, 14, 10, 6, 2, 17, 13, 9, 5, 1, 16, 12, 8, 4, 0)),
        (CONFIDENCE, False, p(0, 4, 8, 12, 16, 1, 5, 9, 13, 17, 2, 6, 10, 14, 18, 3, 7, 11, 15, 19)),
        (DETECTED, True, p(*range(20))),
        (DETECTED, False, p(*reversed(range(20)))),
        (SYMBOL, False, p(0, 5, 10, 15, 1, 6, 11, 16, 2, 7, 12, 17, 4, 9, 14, 19, 3, 8, 13, 18)),
        (SYMBOL, True, p(18, 13, 8, 3, 19, 14, 9, 4, 17, 12, 7, 2, 16, 11, 6, 1, 15, 10, 5, 0)),
        (RS, True, p(*reversed(range(20)))),
        (RS, False, p(*range(20))),
        (RV, True, p(*reversed(range(20)))),
        (RV, False, p(*range(20))),
    ],
)
def test_fixture_sort_returns_hand_computed_order(
    fixture_cache: PatternCache, sort_by: ScanSortField, descending: bool, expected: list[str]
) -> None:
    # Act
    page = fixture_cache.scan(ScanQuery(sort_by=sort_by, descending=descending, page_size=100), NOW_NS)

    # Assert
    assert ids(page) == expected


# --- paging -----------------------------------------------------------------------------------------------


def test_fixture_pages_of_seven_follow_the_cursor_to_the_end(fixture_cache: PatternCache) -> None:
    # Arrange
    query = ScanQuery(page_size=7)

    # Act
    first = fixture_cache.scan(query, NOW_NS)
    second = fixture_cache.scan(_after(query, first), NOW_NS)
    third = fixture_cache.scan(_after(query, second), NOW_NS)

    # Assert
    assert ids(first) == p(19, 15, 11, 7, 3, 18, 14)
    assert first.next_cursor == ScanCursor(sort_key=0.8, pattern_id="p14")
    assert ids(second) == p(10, 6, 2, 17, 13, 9, 5)
    assert ids(third) == p(1, 16, 12, 8, 4, 0)
    assert third.next_cursor is None
    assert [first.total_size, second.total_size, third.total_size] == [20, 20, 20]


def test_page_exactly_full_at_the_end_has_no_cursor(fixture_cache: PatternCache) -> None:
    # Act
    page = fixture_cache.scan(ScanQuery(page_size=20), NOW_NS)

    # Assert
    assert len(page.patterns) == 20
    assert page.next_cursor is None


def test_patterns_arriving_between_pages_do_not_shift_or_repeat(fixture_cache: PatternCache) -> None:
    # Arrange: page 1 ends at p14 (confidence 0.8)
    query = ScanQuery(page_size=7)
    first = fixture_cache.scan(query, NOW_NS)
    fixture_cache.put(make_pattern("new-top", confidence=0.95))  # sorts before the cursor
    fixture_cache.put(make_pattern("new-mid", confidence=0.65))  # sorts after p01 (0.7), before p16 (0.6)

    # Act
    second = fixture_cache.scan(_after(query, first), NOW_NS)
    third = fixture_cache.scan(_after(query, second), NOW_NS)

    # Assert
    assert ids(second) == p(10, 6, 2, 17, 13, 9, 5)
    assert ids(third) == [*p(1), "new-mid", *p(16, 12, 8, 4, 0)]
    assert second.total_size == 22


def test_cursor_pattern_expiring_between_pages_keeps_the_position(fixture_cache: PatternCache) -> None:
    # Arrange: page 1 ends at p14; it and p19 (already returned) expire before page 2
    query = ScanQuery(page_size=7)
    first = fixture_cache.scan(query, NOW_NS)
    for number in (14, 19):
        fixture_cache.put(make_pattern(f"p{number:02d}", expires_ns=NOW_NS + 1))

    # Act
    second = fixture_cache.scan(_after(query, first), NOW_NS + 1)

    # Assert
    assert ids(second) == p(10, 6, 2, 17, 13, 9, 5)
    assert second.total_size == 18


def test_descending_cursor_between_equal_keys_splits_ties_by_id(fixture_cache: PatternCache) -> None:
    # Arrange: after p11 among the 0.9s (p19 p15 p11 p07 p03)
    query = ScanQuery(page_size=3, after=ScanCursor(sort_key=0.9, pattern_id="p11"))

    # Act
    page = fixture_cache.scan(query, NOW_NS)

    # Assert
    assert ids(page) == p(7, 3, 18)


# --- expiry -----------------------------------------------------------------------------------------------


def test_scan_never_returns_or_counts_expired_patterns() -> None:
    # Arrange
    cache = PatternCache()
    cache.put(make_pattern("gone", expires_ns=NOW_NS))
    cache.put(make_pattern("stays", expires_ns=NOW_NS + 1))

    # Act
    page = cache.scan(ScanQuery(), NOW_NS)

    # Assert
    assert ids(page) == ["stays"]
    assert page.total_size == 1


# --- ScanQuery --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"min_confidence": math.nan},
        {"min_confidence": -0.01},
        {"min_confidence": 1.01},
        {"min_relative_strength": math.nan},
        {"min_relative_volume": math.nan},
        {"min_rsi": math.nan},
        {"max_rsi": math.nan},
        {"min_rsi": 60.0, "max_rsi": 59.9},
        {"page_size": 0},
        {"sort_by": SYMBOL, "after": ScanCursor(sort_key=1.0, pattern_id="p")},
        {"sort_by": CONFIDENCE, "after": ScanCursor(sort_key="AAPL", pattern_id="p")},
        {"sort_by": CONFIDENCE, "after": ScanCursor(sort_key=True, pattern_id="p")},
        {"sort_by": CONFIDENCE, "after": ScanCursor(sort_key=math.nan, pattern_id="p")},
        {"sort_by": DETECTED, "after": ScanCursor(sort_key=1.5, pattern_id="p")},
        {"sort_by": DETECTED, "after": ScanCursor(sort_key=1, pattern_id="p\0")},
        {"sort_by": SYMBOL, "after": ScanCursor(sort_key="\ud800", pattern_id="p")},
    ],
)
def test_impossible_query_raises_value_error(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ScanQuery(**fields)


@pytest.mark.parametrize(
    ("query", "pattern", "expected"),
    [
        # Missing indicators count as rs 1.0, rv 1.0, RSI 50.
        (ScanQuery(min_relative_strength=1.0, min_relative_volume=1.0), make_pattern(), True),
        (ScanQuery(min_relative_strength=1.01), make_pattern(), False),
        (ScanQuery(min_relative_volume=1.01), make_pattern(), False),
        (ScanQuery(min_rsi=50.0, max_rsi=50.0), make_pattern(), True),
        (ScanQuery(min_rsi=50.1), make_pattern(), False),
        # NaN indicators count as missing.
        (
            ScanQuery(min_rsi=50.0, max_rsi=50.0),
            make_pattern(indicators=PatternIndicators(rsi=math.nan)),
            True,
        ),
        # A pattern without a timeframe matches only the empty set.
        (ScanQuery(), make_pattern(timeframe=None), True),
        (ScanQuery(timeframes=frozenset({DAILY, INTRADAY, COMBO})), make_pattern(timeframe=None), False),
        (ScanQuery(min_confidence=0.8), make_pattern(confidence=0.8), True),
        (ScanQuery(min_confidence=0.8), make_pattern(confidence=0.79), False),
    ],
)
def test_matches_applies_documented_defaults(query: ScanQuery, pattern: Pattern, expected: bool) -> None:
    assert query.matches(pattern) is expected


def test_cursor_after_gives_defaulted_sort_key() -> None:
    assert cursor_after(make_pattern("x"), RS) == ScanCursor(sort_key=1.0, pattern_id="x")


# --- property test against a naive reference --------------------------------------------------------------

# Values at and around the cache's quantisation edges (confidence steps of 0.005, ratios of 0.05, RSI of
# 0.4), beyond its clamps, and special values, so that exact boundary checks are exercised.
_CONFIDENCES = [0.0, 0.4999999999999999, 0.5, 0.5000000000000001, 0.7, 0.72, 0.8, 0.9, 1.0, 1.5]
_RATIOS = [None, math.nan, -1.0, 0.0, 0.05, 0.99, 1.0, 1.2, 1.2000000000000002, 1.23, 12.75, 40.0, math.inf]
_RSIS = [None, math.nan, -5.0, 0.0, 0.3, 30.0, 49.9, 50.0, 70.0, 70.2, 100.0, 120.0]
_BOUNDS = [-math.inf, -1.0, 0.0, 0.5, 0.72, 1.0, 1.2, 1.23, 12.75, 30.0, 50.0, 70.0, 100.0, math.inf]


@st.composite
def patterns(draw: st.DrawFn) -> list[Pattern]:
    count = draw(st.integers(0, 40))
    result = []
    for _ in range(count):
        result.append(
            make_pattern(
                f"id{draw(st.integers(0, 60)):02d}",  # repeated ids replace
                symbol=draw(st.sampled_from(("A", "AB", "B", "ZZ"))),
                pattern_type=draw(st.sampled_from(("Doji", "Hammer", "Bull_Flag"))),
                confidence=draw(st.sampled_from(_CONFIDENCES)),
                detected_ns=NOW_NS - draw(st.integers(0, 5)) * NS_PER_S,
                expires_ns=NOW_NS + draw(st.integers(-2, 3)),
                timeframe=draw(st.sampled_from((None, DAILY, INTRADAY, COMBO))),
                indicators=PatternIndicators(
                    relative_strength=draw(st.sampled_from(_RATIOS)),
                    relative_volume=draw(st.sampled_from(_RATIOS)),
                    rsi=draw(st.sampled_from(_RSIS)),
                ),
            )
        )
    return result


@st.composite
def queries(draw: st.DrawFn) -> ScanQuery:
    # Each filter is absent (or permissive) half the time, so that pages are often non-empty.
    rsi = draw(
        st.sampled_from([(-math.inf, math.inf), (0.0, 100.0)])
        | st.lists(st.sampled_from(_BOUNDS), min_size=2, max_size=2).map(sorted)
    )
    return ScanQuery(
        pattern_types=draw(
            st.just(frozenset()) | st.frozensets(st.sampled_from(("Doji", "Hammer", "Bull_Flag", "Gap_Fill")))
        ),
        symbols=draw(st.none() | st.frozensets(st.sampled_from(("A", "AB", "B", "C")))),
        min_confidence=draw(
            st.sampled_from([0.0, 0.5]) | st.sampled_from([c for c in _CONFIDENCES if c <= 1.0])
        ),
        min_relative_strength=draw(st.sampled_from([-math.inf, 0.0]) | st.sampled_from(_BOUNDS)),
        min_relative_volume=draw(st.sampled_from([-math.inf, 0.0]) | st.sampled_from(_BOUNDS)),
        min_rsi=rsi[0],
        max_rsi=rsi[1],
        timeframes=draw(st.just(frozenset()) | st.frozensets(st.sampled_from((DAILY, INTRADAY, COMBO)))),
        sort_by=draw(st.sampled_from(ScanSortField)),
        descending=draw(st.booleans()),
        page_size=draw(st.integers(1, 6)),
    )


def _neutral(value: float | None, missing: float) -> float:
    return missing if value is None or value != value else value


def naive_scan(stored: list[Pattern], query: ScanQuery, now_ns: int) -> list[str]:
    """Every match of `query` in order: the last put of each id, filtered one by one, fully sorted."""
    latest = {pattern.pattern_id: pattern for pattern in stored}
    matches = [
        pattern
        for pattern in latest.values()
        if pattern.expires_ns > now_ns
        and (not query.pattern_types or pattern.pattern_type in query.pattern_types)
        and (query.symbols is None or pattern.symbol in query.symbols)
        and (not query.timeframes or pattern.timeframe in query.timeframes)
        and pattern.confidence >= query.min_confidence
        and _neutral(pattern.indicators.relative_strength, 1.0) >= query.min_relative_strength
        and _neutral(pattern.indicators.relative_volume, 1.0) >= query.min_relative_volume
        and query.min_rsi <= _neutral(pattern.indicators.rsi, 50.0) <= query.max_rsi
    ]

    def key(pattern: Pattern) -> tuple[Any, str]:
        value = {
            CONFIDENCE: pattern.confidence,
            DETECTED: pattern.detected_ns,
            SYMBOL: pattern.symbol,
            RS: _neutral(pattern.indicators.relative_strength, 1.0),
            RV: _neutral(pattern.indicators.relative_volume, 1.0),
        }[query.sort_by]
        return value, pattern.pattern_id

    return [pattern.pattern_id for pattern in sorted(matches, key=key, reverse=query.descending)]


def _all_pages(cache: PatternCache, query: ScanQuery, now_ns: int) -> tuple[list[str], set[int]]:
    returned: list[str] = []
    totals: set[int] = set()
    for _ in range(len(cache) + 2):  # a cursor that does not advance must fail, not loop
        page = cache.scan(query, now_ns)
        returned += ids(page)
        totals.add(page.total_size)
        assert len(page.patterns) <= query.page_size
        if page.next_cursor is None:
            return returned, totals
        query = ScanQuery(**{**_fields(query), "after": page.next_cursor})
    raise AssertionError("paging did not end")


@settings(max_examples=300, deadline=None)
@given(stored=patterns(), query=queries(), now_offset=st.integers(-1, 2), tiny_walks=st.booleans())
def test_paged_scan_equals_naive_reference(
    stored: list[Pattern], query: ScanQuery, now_offset: int, tiny_walks: bool
) -> None:
    # Arrange
    cache = PatternCache()
    for pattern in stored:
        cache.put(pattern)
    now_ns = NOW_NS + now_offset
    expected = naive_scan(stored, query, now_ns)

    # Act: tiny walk budgets force the partial-sort fallback that clustered matches take
    with pytest.MonkeyPatch.context() as patch:
        if tiny_walks:
            patch.setattr(cache_module, "_WALK_BUDGET_FACTOR", 0)
            patch.setattr(cache_module, "_WALK_BUDGET_MIN_STEPS", 1)
        returned, totals = _all_pages(cache, query, now_ns)

    # Assert
    assert returned == expected
    assert totals == {len(expected)}
    latest = {pattern.pattern_id: pattern for pattern in stored}
    assert {
        i for i, pattern in latest.items() if pattern.expires_ns > now_ns and query.matches(pattern)
    } == set(expected)


def _fields(query: ScanQuery) -> dict[str, Any]:
    return {name: getattr(query, name) for name in ScanQuery.__dataclass_fields__}


def _after(query: ScanQuery, page: ScanPage) -> ScanQuery:
    assert page.next_cursor is not None
    return ScanQuery(**{**_fields(query), "after": page.next_cursor})
