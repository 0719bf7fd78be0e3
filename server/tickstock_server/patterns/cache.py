"""`PatternCache`: current patterns in process, indexed so that a scan never loops over all of them.

Indexes, all kept in step by `put` and by the removals (expiry, replacement, eviction):

- by id (a dict) and by symbol (slots per symbol; empty sets are dropped);
- `PatternColumns`: filter fields as byte columns, one slot per pattern, turned into filter masks at
  C speed (see that module);
- one `SortedIndex` per sort field (confidence, detection time, symbol, relative strength, relative
  volume) of items ordered by (value, pattern id) and carrying the slot, giving pages in order from any
  cursor;
- an expiry min-heap of (expires_ns, sequence, entry). Replacing a pattern leaves its old heap item in
  place (lazy deletion: a popped item whose entry is no longer current is skipped); the heap is rebuilt
  when stale items outnumber live ones and cleared when the cache empties, so it stays bounded.

A scan first removes expired patterns, so none is ever returned. Then it builds the mask of matches
(`cache_query`), whose bit count is the total, and cuts the page: by walking the sort field's index
from the cursor keeping masked slots when matches are many (a page takes about
page_size * size / matches steps), or by a partial sort of the matches when they are few. Python code
thus runs per returned pattern and per pattern near a filter bound, not per cached pattern; only C
loops (bytes.translate, int &) see every slot. At 50,000 patterns a scan takes about 0.5 to 2 ms
(bench/scan.py), a put about 20 to 40 us.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from tickstock_server.domain.patterns import Pattern
from tickstock_server.patterns.cache_columns import PatternColumns
from tickstock_server.patterns.cache_entry import CacheEntry, check_indexable
from tickstock_server.patterns.cache_index import (
    SortedIndex,
    float_key,
    index_item,
    int_key,
    item_slots,
    probe_after,
    probe_before,
    str_key,
)
from tickstock_server.patterns.cache_query import own_minimum, query_mask
from tickstock_server.patterns.scan import ScanCursor, ScanPage, ScanQuery, ScanSortField
from tickstock_server.support.metric_samples import MetricSample, counter, gauge

_logger = logging.getLogger(__name__)

DEFAULT_MAX_PATTERNS = 200_000
"""Default capacity of a `PatternCache`."""

# Heap items beyond this many plus twice the live patterns trigger a rebuild of the expiry heap.
_HEAP_SLACK = 1_024

# A walk of the sort index gives up after this many times the steps expected from the share of matches
# (plus a constant), for a partial sort of the matches: matches clustered at the far end of the sort
# order (e.g. symbols sorted by symbol) would otherwise make it visit most of the index.
_WALK_BUDGET_FACTOR = 16
_WALK_BUDGET_MIN_STEPS = 1_024

_SORT_ATTRIBUTES: Mapping[ScanSortField, str] = {
    ScanSortField.CONFIDENCE: "confidence",
    ScanSortField.DETECTED: "detected_ns",
    ScanSortField.SYMBOL: "symbol",
    ScanSortField.RELATIVE_STRENGTH: "relative_strength",
    ScanSortField.RELATIVE_VOLUME: "relative_volume",
}
_SORT_KEYS = {field: attrgetter(name) for field, name in _SORT_ATTRIBUTES.items()}
_PAGE_ORDER_KEYS = {field: attrgetter(name, "pattern_id") for field, name in _SORT_ATTRIBUTES.items()}
_KEY_ENCODERS: Mapping[ScanSortField, Callable[[Any], bytes]] = {
    ScanSortField.CONFIDENCE: float_key,
    ScanSortField.DETECTED: int_key,
    ScanSortField.SYMBOL: str_key,
    ScanSortField.RELATIVE_STRENGTH: float_key,
    ScanSortField.RELATIVE_VOLUME: float_key,
}

PatternListener = Callable[[Pattern], None]
"""Called synchronously by `PatternCache.put` with each pattern stored; must not block."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternCacheStats:
    """Counters and sizes of a `PatternCache`."""

    size: int
    """Patterns cached (expired ones not yet removed included)."""
    counts_by_type: Mapping[str, int]
    """Patterns cached per pattern type."""
    last_detected_ns: int | None
    """Latest detection time of any pattern put, UTC epoch ns; None before the first."""
    expired_cleaned: int
    """Patterns removed because they expired."""
    evicted: int
    """Patterns removed before expiry because the cache was full."""
    scans: int
    """Scans run."""

    def metric_samples(self) -> list[MetricSample]:
        """The size and counters as metric samples (not the per-type counts: types come from the producer)."""
        return [
            gauge(
                "tickstock_patterns_cached",
                "Patterns in the cache, expired ones not yet removed included.",
                self.size,
            ),
            counter(
                "tickstock_pattern_cache_evicted",
                "Patterns removed before they expired because the cache was full.",
                self.evicted,
            ),
            counter(
                "tickstock_pattern_cache_expired",
                "Patterns removed because they expired.",
                self.expired_cleaned,
            ),
            counter("tickstock_pattern_scans", "Pattern scans run.", self.scans),
        ]


class PatternCache:
    """The current patterns, with TTL, a capacity bound, indexed scans and listeners for new patterns.

    Not thread-safe: use it from the event loop only. Every method is synchronous and short.

    Capacity: when a new id arrives while `max_patterns` are cached, the cached pattern that expires
    soonest is evicted (counted in `evicted`); the newcomer always gets in, being the freshest
    information. Replacing an id never evicts.
    """

    def __init__(self, *, max_patterns: int = DEFAULT_MAX_PATTERNS) -> None:
        """Create an empty cache holding at most `max_patterns` patterns."""
        if max_patterns < 1:
            raise ValueError("max_patterns must be at least 1")
        self._max_patterns = max_patterns
        self._by_id: dict[str, CacheEntry] = {}
        self._by_symbol: dict[str, set[int]] = {}
        self._columns = PatternColumns()
        self._sorted = {field: SortedIndex() for field in ScanSortField}
        # (index, encoder, value) triples, to spare put() the enum-keyed lookups.
        self._index_keys = [(self._sorted[f], _KEY_ENCODERS[f], _SORT_KEYS[f]) for f in ScanSortField]
        self._expiry: list[tuple[int, int, CacheEntry]] = []
        self._sequence = itertools.count()
        self._listeners: list[PatternListener] = []
        self._last_detected_ns: int | None = None
        self._expired_cleaned = 0
        self._evicted = 0
        self._scans = 0

    @property
    def max_patterns(self) -> int:
        """Most patterns the cache holds."""
        return self._max_patterns

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, pattern_id: str) -> Pattern | None:
        """The cached pattern with `pattern_id`, expired or not, or None."""
        entry = self._by_id.get(pattern_id)
        return entry.pattern if entry is not None else None

    def put(self, pattern: Pattern, *, notify: bool = True) -> None:
        """Store `pattern`, replacing any cached pattern with the same id, and tell the listeners.

        Args:
            pattern: The pattern; it may already be expired (a later `expire` or `scan` removes it).
            notify: False to skip the listeners, e.g. when warming the cache from Redis at start.

        Raises:
            ValueError: The pattern cannot be indexed: a NaN or infinite confidence, a detection time
                outside the int64 range, or an id or symbol with NUL or a lone surrogate. The cache is
                unchanged.
        """
        check_indexable(pattern)
        previous = self._by_id.get(pattern.pattern_id)
        if previous is not None:
            self._unindex(previous)
        elif len(self._by_id) >= self._max_patterns:
            self._evict_soonest_expiring()
        entry = CacheEntry(pattern)
        self._index(entry)
        heapq.heappush(self._expiry, (entry.expires_ns, next(self._sequence), entry))
        if len(self._expiry) > 2 * len(self._by_id) + _HEAP_SLACK:
            self._rebuild_expiry_heap()
        if self._last_detected_ns is None or pattern.detected_ns > self._last_detected_ns:
            self._last_detected_ns = pattern.detected_ns
        if notify:
            self._notify(pattern)

    def expire(self, now_ns: int) -> int:
        """Remove the patterns that expired at `now_ns` (``expires_ns <= now_ns``); return how many."""
        heap = self._expiry
        removed = 0
        while heap and heap[0][0] <= now_ns:
            entry = heapq.heappop(heap)[2]
            if self._by_id.get(entry.pattern_id) is entry:
                self._unindex(entry)
                removed += 1
        if not self._by_id:
            heap.clear()  # only stale items of replaced patterns can be left
        self._expired_cleaned += removed
        return removed

    def scan(self, query: ScanQuery, now_ns: int) -> ScanPage:
        """Return the page of current patterns that `query` selects.

        Patterns expired at `now_ns` are removed first (as by `expire`), so none is ever returned.
        """
        self.expire(now_ns)
        self._scans += 1
        if not self._by_id:
            return ScanPage(patterns=(), total_size=0, next_cursor=None)
        mask, total = query_mask(
            query,
            columns=self._columns,
            live=len(self._by_id),
            by_symbol=self._by_symbol,
            sorted_indexes=self._sorted,
        )
        entries, more = self._cut_page(query, mask, total) if total else ([], False)
        next_cursor = None
        if more:
            last = entries[-1]
            next_cursor = ScanCursor(sort_key=_SORT_KEYS[query.sort_by](last), pattern_id=last.pattern_id)
        return ScanPage(
            patterns=tuple(entry.pattern for entry in entries), total_size=total, next_cursor=next_cursor
        )

    def add_listener(self, listener: PatternListener) -> Callable[[], None]:
        """Call `listener` with every pattern put from now on; return a function that removes it.

        A listener that raises is logged and does not stop the others or the put.
        """
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def stats(self) -> PatternCacheStats:
        """Current sizes and counters."""
        return PatternCacheStats(
            size=len(self._by_id),
            counts_by_type=self._columns.type_counts(),
            last_detected_ns=self._last_detected_ns,
            expired_cleaned=self._expired_cleaned,
            evicted=self._evicted,
            scans=self._scans,
        )

    def metric_samples(self) -> list[MetricSample]:
        """The samples of `stats`."""
        return self.stats().metric_samples()

    def index_sizes(self) -> dict[str, int]:
        """Items held by each internal structure (for leak checks: all zero once every pattern is gone)."""
        sizes = {
            "ids": len(self._by_id),
            "symbols": len(self._by_symbol),
            "symbol_members": sum(map(len, self._by_symbol.values())),
            "pattern_types": len(self._columns.type_counts()),
            "column_slots": self._columns.capacity,
            "expiry_heap": len(self._expiry),
        }
        for field, index in self._sorted.items():
            sizes[f"sorted_by_{field.value}"] = len(index)
        return sizes

    # --- indexing --------------------------------------------------------------------------------------

    def _index(self, entry: CacheEntry) -> None:
        self._columns.add(entry)
        slot = entry.slot
        self._by_id[entry.pattern_id] = entry
        slots = self._by_symbol.get(entry.symbol)
        if slots is None:
            self._by_symbol[entry.symbol] = {slot}
        else:
            slots.add(slot)
        for index, encode, value in self._index_keys:
            index.add(index_item(encode(value(entry)), entry.pattern_id, slot))

    def _unindex(self, entry: CacheEntry) -> None:
        slot = entry.slot
        del self._by_id[entry.pattern_id]
        slots = self._by_symbol[entry.symbol]
        slots.discard(slot)
        if not slots:
            del self._by_symbol[entry.symbol]
        for index, encode, value in self._index_keys:
            index.remove(index_item(encode(value(entry)), entry.pattern_id, slot))
        self._columns.remove(entry)

    def _evict_soonest_expiring(self) -> None:
        heap = self._expiry
        while heap:
            entry = heapq.heappop(heap)[2]
            if self._by_id.get(entry.pattern_id) is entry:
                self._unindex(entry)
                self._evicted += 1
                return

    def _rebuild_expiry_heap(self) -> None:
        self._expiry = [(e.expires_ns, next(self._sequence), e) for e in self._by_id.values()]
        heapq.heapify(self._expiry)

    def _notify(self, pattern: Pattern) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(pattern)
            except Exception:
                _logger.exception("pattern listener %r failed", listener)

    # --- paging ----------------------------------------------------------------------------------------

    def _cut_page(self, query: ScanQuery, mask: bytes | None, total: int) -> tuple[list[CacheEntry], bool]:
        """The page's entries in order, and whether more matches follow them."""
        wanted = query.page_size + 1
        index = self._sorted[query.sort_by]
        size = len(index)
        start, stop = self._walk_range(query, index)
        if start >= stop:
            return [], False
        slots = item_slots(index.iter_range(start, stop, reverse=query.descending))
        if mask is None:
            chosen = list(itertools.islice(slots, wanted))
        else:
            expected_steps = wanted * size // total + 1
            if total * total <= wanted * size:
                # Few matches: sorting them beats walking about size / total steps per match.
                return self._partial_sort(query, mask, wanted)
            budget = _WALK_BUDGET_FACTOR * expected_steps + _WALK_BUDGET_MIN_STEPS
            bounded = stop - start > budget
            if bounded:
                slots = itertools.islice(slots, budget)
            chosen = list(itertools.islice(filter(mask.__getitem__, slots), wanted))
            if bounded and len(chosen) < wanted:
                return self._partial_sort(query, mask, wanted)
        entries = list(map(self._columns.entry, chosen))
        more = len(entries) == wanted
        return (entries[:-1] if more else entries), more

    def _walk_range(self, query: ScanQuery, index: SortedIndex) -> tuple[int, int]:
        """Positions of the sort index that can hold the page: after the cursor, above the own minimum."""
        start, stop = 0, len(index)
        minimum = own_minimum(query)
        if minimum is not None:
            start = index.rank(float_key(minimum))
        after = query.after
        if after is not None:
            key = _KEY_ENCODERS[query.sort_by](after.sort_key)
            if query.descending:
                stop = min(stop, index.rank(probe_before(key, after.pattern_id)))
            else:
                start = max(start, index.rank(probe_after(key, after.pattern_id)))
        return start, stop

    def _partial_sort(self, query: ScanQuery, mask: bytes, wanted: int) -> tuple[list[CacheEntry], bool]:
        key = _PAGE_ORDER_KEYS[query.sort_by]
        entries = list(map(self._columns.entry, self._columns.matching_slots(mask)))
        after = query.after
        if after is not None:
            position = (after.sort_key, after.pattern_id)
            if query.descending:
                entries = [e for e in entries if key(e) < position]
            else:
                entries = [e for e in entries if key(e) > position]
        pick = heapq.nlargest if query.descending else heapq.nsmallest
        chosen = pick(wanted, entries, key=key)
        more = len(chosen) == wanted
        return (chosen[:-1] if more else chosen), more
