"""PatternCache: ids, replacement, TTL expiry without index leaks, capacity eviction, listeners, stats, and
the exactness of its quantised filter columns and its sorted index."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest
from factories import HOUR_NS, NS_PER_S, PATTERN_NOW_NS, make_pattern
from hypothesis import given, settings
from hypothesis import strategies as st

from tickstock_server.domain.patterns import Pattern, PatternIndicators, PatternTimeframe
from tickstock_server.patterns.cache import PatternCache
from tickstock_server.patterns.cache_index import SortedIndex, float_key, index_item, item_slots
from tickstock_server.patterns.scan import ScanQuery, ScanSortField

NOW_NS = PATTERN_NOW_NS


def scan_ids(cache: PatternCache, now_ns: int = NOW_NS, **query: Any) -> list[str]:
    page = cache.scan(ScanQuery(page_size=1_000, **query), now_ns)
    return [pattern.pattern_id for pattern in page.patterns]


def all_zero(sizes: dict[str, int]) -> bool:
    return all(size == 0 for size in sizes.values())


# --- ids and replacement ----------------------------------------------------------------------------------


def test_put_same_id_replaces_everywhere() -> None:
    # Arrange
    cache = PatternCache()
    cache.put(make_pattern("x", symbol="AAPL", pattern_type="Doji", confidence=0.9))

    # Act
    cache.put(make_pattern("x", symbol="MSFT", pattern_type="Hammer", confidence=0.6))

    # Assert
    assert len(cache) == 1
    assert cache.get("x") == make_pattern("x", symbol="MSFT", pattern_type="Hammer", confidence=0.6)
    assert scan_ids(cache, symbols=frozenset({"AAPL"})) == []
    assert scan_ids(cache, pattern_types=frozenset({"Doji"})) == []
    assert scan_ids(cache, min_confidence=0.7) == []
    assert scan_ids(cache, symbols=frozenset({"MSFT"}), pattern_types=frozenset({"Hammer"})) == ["x"]
    assert cache.stats().counts_by_type == {"Hammer": 1}
    assert cache.index_sizes()["symbols"] == 1


def test_get_unknown_id_returns_none() -> None:
    assert PatternCache().get("nope") is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"confidence": math.nan},
        {"confidence": math.inf},
        {"pattern_id": "a\0b"},
        {"symbol": "A\0"},
        {"pattern_id": "\ud800"},
        {"symbol": "\udfff"},
        {"detected_ns": 1 << 63},
    ],
)
def test_put_unindexable_pattern_raises_value_error(overrides: dict[str, Any]) -> None:
    cache = PatternCache()
    with pytest.raises(ValueError):
        cache.put(make_pattern(**overrides))
    assert all_zero(cache.index_sizes())


# --- expiry -----------------------------------------------------------------------------------------------


def test_expire_removes_due_patterns_and_counts_them() -> None:
    # Arrange
    cache = PatternCache()
    cache.put(make_pattern("due", expires_ns=NOW_NS))
    cache.put(make_pattern("later", expires_ns=NOW_NS + 1))

    # Act
    removed = cache.expire(NOW_NS)

    # Assert
    assert removed == 1
    assert cache.get("due") is None
    assert cache.get("later") is not None
    assert cache.stats().expired_cleaned == 1


def test_every_index_is_empty_once_all_patterns_expired() -> None:
    # Arrange: several symbols, types, timeframes; replacements with earlier and later expiries
    cache = PatternCache()
    for i in range(300):
        cache.put(
            make_pattern(
                f"id{i}",
                symbol=f"S{i % 17}",
                pattern_type=f"T{i % 5}",
                timeframe=(None, *PatternTimeframe)[i % 4],
                confidence=0.5 + (i % 50) / 100,
                expires_ns=NOW_NS + (i % 7) * NS_PER_S,
            )
        )
    for i in range(0, 300, 3):
        cache.put(make_pattern(f"id{i}", expires_ns=NOW_NS + (i % 2) * 10 * NS_PER_S))

    # Act
    removed = cache.expire(NOW_NS + 10 * NS_PER_S)

    # Assert
    assert removed == 300
    assert all_zero(cache.index_sizes()), cache.index_sizes()
    assert cache.stats().counts_by_type == {}


def test_replacing_an_id_many_times_keeps_the_expiry_heap_bounded() -> None:
    # Arrange
    cache = PatternCache()
    cache.put(make_pattern("other"))

    # Act
    for i in range(5_000):
        cache.put(make_pattern("x", expires_ns=NOW_NS + HOUR_NS + i))

    # Assert
    assert cache.index_sizes()["expiry_heap"] <= 2 * 2 + 1_024
    assert cache.expire(NOW_NS + 2 * HOUR_NS) == 2
    assert all_zero(cache.index_sizes())


def test_replacement_with_earlier_expiry_expires_at_the_new_time() -> None:
    # Arrange
    cache = PatternCache()
    cache.put(make_pattern("x", expires_ns=NOW_NS + HOUR_NS))
    cache.put(make_pattern("x", expires_ns=NOW_NS + 1))

    # Act
    removed = cache.expire(NOW_NS + 1)

    # Assert
    assert removed == 1
    assert all_zero(cache.index_sizes())


def test_replacement_with_later_expiry_survives_the_old_time() -> None:
    # Arrange
    cache = PatternCache()
    cache.put(make_pattern("x", expires_ns=NOW_NS + 1))
    cache.put(make_pattern("x", expires_ns=NOW_NS + HOUR_NS))

    # Act
    removed = cache.expire(NOW_NS + 1)

    # Assert
    assert removed == 0
    assert scan_ids(cache, NOW_NS + 1) == ["x"]


# --- capacity ---------------------------------------------------------------------------------------------


def test_full_cache_evicts_the_soonest_expiring_pattern() -> None:
    # Arrange
    cache = PatternCache(max_patterns=3)
    for name, expires_in_s in (("a", 30), ("b", 10), ("c", 20)):
        cache.put(make_pattern(name, expires_ns=NOW_NS + expires_in_s * NS_PER_S))

    # Act
    cache.put(make_pattern("d", expires_ns=NOW_NS + 5 * NS_PER_S))

    # Assert: the newcomer gets in even though it expires soonest of all
    assert sorted(scan_ids(cache)) == ["a", "c", "d"]
    assert cache.stats().evicted == 1
    assert cache.index_sizes()["ids"] == 3


def test_full_cache_replacing_an_id_evicts_nothing() -> None:
    # Arrange
    cache = PatternCache(max_patterns=2)
    cache.put(make_pattern("a", expires_ns=NOW_NS + 1))
    cache.put(make_pattern("b", expires_ns=NOW_NS + 2))

    # Act
    cache.put(make_pattern("b", confidence=0.9))

    # Assert
    assert sorted(scan_ids(cache)) == ["a", "b"]
    assert cache.stats().evicted == 0


def test_full_cache_skips_stale_heap_items_when_evicting() -> None:
    # Arrange: "a" was replaced with a later expiry, so its first heap item is stale
    cache = PatternCache(max_patterns=2)
    cache.put(make_pattern("a", expires_ns=NOW_NS + 1))
    cache.put(make_pattern("b", expires_ns=NOW_NS + 5))
    cache.put(make_pattern("a", expires_ns=NOW_NS + 9))

    # Act
    cache.put(make_pattern("c", expires_ns=NOW_NS + 7))

    # Assert
    assert sorted(scan_ids(cache)) == ["a", "c"]


def test_max_patterns_below_one_raises_value_error() -> None:
    with pytest.raises(ValueError):
        PatternCache(max_patterns=0)


# --- listeners --------------------------------------------------------------------------------------------


def test_listeners_see_each_put_unless_told_not_to_notify() -> None:
    # Arrange
    cache = PatternCache()
    seen: list[str] = []
    cache.add_listener(lambda pattern: seen.append(pattern.pattern_id))

    # Act
    cache.put(make_pattern("a"))
    cache.put(make_pattern("warm", expires_ns=NOW_NS + 5), notify=False)
    cache.put(make_pattern("a", confidence=0.9))

    # Assert
    assert seen == ["a", "a"]


def test_removed_listener_is_not_called() -> None:
    # Arrange
    cache = PatternCache()
    seen: list[str] = []
    remove = cache.add_listener(lambda pattern: seen.append(pattern.pattern_id))

    # Act
    remove()
    remove()  # idempotent
    cache.put(make_pattern("a"))

    # Assert
    assert seen == []


def test_failing_listener_is_logged_and_others_still_called(caplog: pytest.LogCaptureFixture) -> None:
    # Arrange
    cache = PatternCache()
    seen: list[str] = []

    def broken(pattern: Pattern) -> None:
        raise RuntimeError("boom")

    cache.add_listener(broken)
    cache.add_listener(lambda pattern: seen.append(pattern.pattern_id))

    # Act
    with caplog.at_level(logging.ERROR, logger="tickstock_server.patterns.cache"):
        cache.put(make_pattern("a"))

    # Assert
    assert seen == ["a"]
    assert cache.get("a") is not None
    assert "pattern listener" in caplog.text


# --- stats ------------------------------------------------------------------------------------------------


def test_stats_report_sizes_and_counters() -> None:
    # Arrange
    cache = PatternCache()
    cache.put(make_pattern("a", pattern_type="Doji", detected_ns=NOW_NS - 5, expires_ns=NOW_NS))
    cache.put(make_pattern("b", pattern_type="Doji", detected_ns=NOW_NS - 9))
    cache.put(make_pattern("c", pattern_type="Hammer", detected_ns=NOW_NS - 7))

    # Act
    cache.scan(ScanQuery(), NOW_NS)
    cache.scan(ScanQuery(), NOW_NS)
    stats = cache.stats()

    # Assert
    assert stats.size == 2
    assert stats.counts_by_type == {"Doji": 1, "Hammer": 1}
    assert stats.last_detected_ns == NOW_NS - 5
    assert stats.expired_cleaned == 1
    assert stats.evicted == 0
    assert stats.scans == 2


def test_stats_of_empty_cache_have_no_last_detection() -> None:
    assert PatternCache().stats().last_detected_ns is None


# --- filter columns: values sharing a quantisation level with a bound are split exactly --------------------


@pytest.mark.parametrize(
    ("query", "values", "expected"),
    [
        # RSI levels are 0.4 wide: 70.0, 70.2 and 70.3 share one.
        ({"max_rsi": 70.0}, {"rsi": [70.0, 70.2, 70.3, 69.9]}, [0, 3]),
        ({"min_rsi": 70.2}, {"rsi": [70.0, 70.2, 70.3, 69.9]}, [1, 2]),
        # Confidence levels are 0.005 wide: 0.7215 and 0.72 share one.
        ({"min_confidence": 0.7215}, {"confidence": [0.72, 0.7215, 0.7249, 0.725]}, [1, 2, 3]),
        # Ratio levels are 0.05 wide: 1.2, 1.23 and 1.2499 share one.
        ({"min_relative_strength": 1.23}, {"relative_strength": [1.2, 1.23, 1.2499, 1.25]}, [1, 2, 3]),
        ({"min_relative_volume": 1.2000000000000002}, {"relative_volume": [1.2, 1.2000000000000002]}, [1]),
        # Beyond the top level (ratios clamp at 12.75, RSI at 102).
        ({"min_relative_strength": 20.0}, {"relative_strength": [13.0, 20.0, math.inf]}, [1, 2]),
        ({"min_rsi": 101.0, "max_rsi": 110.0}, {"rsi": [100.0, 101.0, 110.0, 111.0]}, [1, 2]),
        # Below zero (clamped to level 0).
        ({"min_rsi": -math.inf, "max_rsi": -1.0}, {"rsi": [-2.0, -1.0, -0.5, 0.0]}, [0, 1]),
    ],
)
def test_bounds_inside_a_quantisation_level_are_applied_exactly(
    query: dict[str, Any], values: dict[str, list[float]], expected: list[int]
) -> None:
    # Arrange
    ((field, numbers),) = values.items()
    cache = PatternCache()
    for i, number in enumerate(numbers):
        if field == "confidence":
            cache.put(make_pattern(f"{i}", confidence=number))
        else:
            cache.put(make_pattern(f"{i}", indicators=PatternIndicators(**{field: number})))

    # Act
    returned = scan_ids(cache, **{"min_confidence": 0.0, **query})

    # Assert
    assert sorted(returned) == [f"{i}" for i in expected]


def test_more_pattern_types_than_codes_still_filter_exactly() -> None:
    # Arrange: 300 types, beyond the 254 that get a column code of their own
    cache = PatternCache()
    for i in range(300):
        cache.put(make_pattern(f"id{i}", pattern_type=f"Type{i}"))

    # Act
    returned = scan_ids(cache, pattern_types=frozenset({"Type3", "Type260", "Type299", "Type999"}))

    # Assert
    assert sorted(returned) == ["id260", "id299", "id3"]


def test_type_codes_are_reused_after_types_disappear() -> None:
    # Arrange: 300 short-lived types, then 10 new ones
    cache = PatternCache()
    for i in range(300):
        cache.put(make_pattern(f"old{i}", pattern_type=f"Old{i}", expires_ns=NOW_NS))
    cache.expire(NOW_NS)
    for i in range(10):
        cache.put(make_pattern(f"new{i}", pattern_type=f"New{i}"))

    # Act
    returned = scan_ids(cache, pattern_types=frozenset({"New4"}))

    # Assert
    assert returned == ["new4"]


# --- sorted index -----------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    operations=st.lists(st.tuples(st.booleans(), st.integers(0, 300)), max_size=400),
    start=st.integers(0, 400),
    stop=st.integers(0, 400),
    probe=st.integers(-1, 301),
)
def test_sorted_index_matches_a_sorted_list(
    operations: list[tuple[bool, int]], start: int, stop: int, probe: int
) -> None:
    # Arrange: tiny chunks, so that splits and emptied chunks happen
    index = SortedIndex(load=4)
    reference: list[bytes] = []

    # Act
    for add, number in operations:
        item = index_item(float_key(float(number)), f"id{number}", number)
        if add and item not in reference:
            index.add(item)
            reference.append(item)
        elif not add and item in reference:
            index.remove(item)
            reference.remove(item)
        elif not add:
            with pytest.raises(ValueError):
                index.remove(item)
    reference.sort()

    # Assert
    probe_key = float_key(float(probe))
    assert len(index) == len(reference)
    assert index.first() == (reference[0] if reference else None)
    assert index.rank(probe_key) == sum(1 for item in reference if item < probe_key)
    assert list(index.iter_range(start, stop)) == reference[start:stop]
    assert list(index.iter_range(start, stop, reverse=True)) == reference[start:stop][::-1]
    assert list(item_slots(index.iter_range(0, len(index)))) == [int(i[-4:].hex(), 16) for i in reference]


@pytest.mark.parametrize(
    "values",
    [
        [-math.inf, -1e300, -2.5, -0.0, 0.0, 5e-324, 0.5, 1.0, 1e300, math.inf],
        [3, 1, 2, -1, 0],
    ],
)
def test_float_keys_sort_like_the_floats(values: list[float]) -> None:
    keys = [float_key(v) for v in values]
    assert sorted(keys) == [float_key(v) for v in sorted(values)]


def test_float_key_of_negative_zero_equals_zero() -> None:
    assert float_key(-0.0) == float_key(0.0)


def test_sorted_index_needs_a_load_of_two() -> None:
    with pytest.raises(ValueError):
        SortedIndex(load=1)


def test_symbol_sort_orders_prefixes_first() -> None:
    # Arrange: "A" < "AB" < "B" as strings; the NUL terminator must keep that order
    cache = PatternCache()
    for symbol in ("B", "AB", "A"):
        cache.put(make_pattern(symbol, symbol=symbol))

    # Act
    returned = scan_ids(cache, sort_by=ScanSortField.SYMBOL, descending=False)

    # Assert
    assert returned == ["A", "AB", "B"]
