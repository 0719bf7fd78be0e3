"""Scan filters over the pattern cache's columns: the mask of the patterns a `ScanQuery` selects.

Filters that no cached pattern fails are skipped: a sorted index's first value tells whether a minimum
confidence, relative strength or relative volume excludes anything.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

from tickstock_server.patterns.cache_columns import PatternColumns
from tickstock_server.patterns.cache_index import SortedIndex, float_key
from tickstock_server.patterns.scan import ScanQuery, ScanSortField

_MINIMUM_FIELDS = (
    (ScanSortField.CONFIDENCE, "confidence"),
    (ScanSortField.RELATIVE_STRENGTH, "relative_strength"),
    (ScanSortField.RELATIVE_VOLUME, "relative_volume"),
)


def own_minimum(query: ScanQuery) -> float | None:
    """The query's lower bound on its own sort field (confidence, relative strength or volume), if any."""
    if query.sort_by is ScanSortField.CONFIDENCE:
        return query.min_confidence
    if query.sort_by is ScanSortField.RELATIVE_STRENGTH:
        return query.min_relative_strength
    if query.sort_by is ScanSortField.RELATIVE_VOLUME:
        return query.min_relative_volume
    return None


def query_mask(
    query: ScanQuery,
    *,
    columns: PatternColumns,
    live: int,
    by_symbol: Mapping[str, set[int]],
    sorted_indexes: Mapping[ScanSortField, SortedIndex],
) -> tuple[bytes | None, int]:
    """The slots matching `query` (a `PatternColumns` mask as bytes) and how many; None if all `live` do.

    Args:
        query: The scan.
        columns: The cache's columns (not empty).
        live: Entries in the cache.
        by_symbol: Slots per symbol.
        sorted_indexes: The cache's index per sort field.
    """
    masks: list[int] = []
    if query.symbols is not None:
        present = [by_symbol[symbol] for symbol in query.symbols if symbol in by_symbol]
        if not present:
            return b"", 0
        masks.append(columns.slots_mask(itertools.chain.from_iterable(present)))
    if query.pattern_types:
        masks.append(columns.type_mask(query.pattern_types))
    if query.timeframes:
        masks.append(columns.timeframe_mask(query.timeframes))
    minimums = (query.min_confidence, query.min_relative_strength, query.min_relative_volume)
    for (field, name), minimum in zip(_MINIMUM_FIELDS, minimums, strict=True):
        first = sorted_indexes[field].first()
        if first is not None and float_key(minimum) > first[:8]:  # the first item's key: its lowest value
            masks.append(columns.range_mask(name, minimum, None))
    if query.min_rsi > -math.inf or query.max_rsi < math.inf:
        masks.append(columns.range_mask("rsi", query.min_rsi, query.max_rsi))
    if not masks:
        return None, live
    combined = columns.live_mask()
    for mask in masks:
        combined &= mask
    return columns.to_bytes(combined), combined.bit_count()
