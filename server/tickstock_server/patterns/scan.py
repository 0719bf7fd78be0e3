"""Pattern scans: the query (filters, sort, keyset cursor), the page it returns, and its per-pattern rules.

`ScanQuery.matches` and `sort_key` are the reference semantics of a scan; `PatternCache.scan` computes
the same result from its indexes, and a live pattern stream can apply `matches` to each new pattern.

Missing indicators count as neutral values, as in the original: relative strength and relative volume
1.0, RSI 50. A NaN indicator counts as missing too (NaN compares false with everything and would
break the sort order).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from tickstock_server.domain.patterns import Pattern, PatternTimeframe

MISSING_RELATIVE_STRENGTH = 1.0
"""Relative strength of a pattern reported without one."""
MISSING_RELATIVE_VOLUME = 1.0
"""Relative volume of a pattern reported without one."""
MISSING_RSI = 50.0
"""RSI of a pattern reported without one."""


class ScanSortField(enum.Enum):
    """What a scan sorts by. Ties are broken by pattern id, in the same direction."""

    CONFIDENCE = "confidence"
    DETECTED = "detected"
    """Detection time."""
    SYMBOL = "symbol"
    RELATIVE_STRENGTH = "relative_strength"
    RELATIVE_VOLUME = "relative_volume"


SortKey = float | int | str
"""Value of a sort field: float (confidence, relative strength or volume), int (detection time in ns) or
str (symbol)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanCursor:
    """Position after the last pattern of a page: its sort key and id (a keyset cursor).

    The next page holds the patterns that sort after this position. Patterns that arrive or expire
    between pages therefore neither shift later pages nor repeat a pattern already returned; a new
    pattern shows up on a later page only if it sorts after the cursor. A cursor is only meaningful for
    the query (filters, sort field and direction) that produced it; the API layer binds it to that query.
    """

    sort_key: SortKey
    """Sort-field value of the last pattern returned, exactly as `sort_key` gives it."""
    pattern_id: str
    """Id of the last pattern returned."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternFilterSpec:
    """Which patterns a scan or a live stream selects: the filters of a `ScanQuery`, without sort or page.

    The API layer builds it from a validated request; `ScanQuery.of` adds the order and the page.
    """

    pattern_types: frozenset[str] = frozenset()
    """Pattern types to include (exact names); empty for all."""
    symbols: frozenset[str] | None = None
    """Symbols to include; None for all (an empty set matches nothing)."""
    min_confidence: float = 0.5
    """Lowest confidence included, 0 to 1."""
    min_relative_strength: float = 0.0
    """Lowest relative strength included (missing counts as 1.0)."""
    min_relative_volume: float = 0.0
    """Lowest relative volume included (missing counts as 1.0)."""
    min_rsi: float = 0.0
    """Lowest RSI included (missing counts as 50)."""
    max_rsi: float = 100.0
    """Highest RSI included (missing counts as 50)."""
    timeframes: frozenset[PatternTimeframe] = frozenset()
    """Timeframes to include; empty for all. A pattern without a timeframe matches only the empty set."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanQuery:
    """Filters (all must hold), sort order and page of a pattern scan.

    The API layer validates and normalises client input (ranges, swapped RSI bounds, universes expanded
    into symbols); the constructor only rejects values no scan can mean.

    Raises:
        ValueError: A NaN bound, `min_confidence` outside [0, 1], `min_rsi` above `max_rsi`,
            `page_size` below 1, or a cursor whose key type does not fit `sort_by`.
    """

    pattern_types: frozenset[str] = frozenset()
    """Pattern types to include (exact names); empty for all."""
    symbols: frozenset[str] | None = None
    """Symbols to include; None for all (an empty set matches nothing)."""
    min_confidence: float = 0.5
    """Lowest confidence included, 0 to 1."""
    min_relative_strength: float = 0.0
    """Lowest relative strength included (missing counts as 1.0)."""
    min_relative_volume: float = 0.0
    """Lowest relative volume included (missing counts as 1.0)."""
    min_rsi: float = 0.0
    """Lowest RSI included (missing counts as 50)."""
    max_rsi: float = 100.0
    """Highest RSI included (missing counts as 50)."""
    timeframes: frozenset[PatternTimeframe] = frozenset()
    """Timeframes to include; empty for all. A pattern without a timeframe matches only the empty set."""
    sort_by: ScanSortField = ScanSortField.CONFIDENCE
    descending: bool = True
    page_size: int = 30
    """Most patterns per page."""
    after: ScanCursor | None = None
    """Cursor of the previous page; None for the first page."""

    def __post_init__(self) -> None:
        bounds = {
            "min_confidence": self.min_confidence,
            "min_relative_strength": self.min_relative_strength,
            "min_relative_volume": self.min_relative_volume,
            "min_rsi": self.min_rsi,
            "max_rsi": self.max_rsi,
        }
        for name, value in bounds.items():
            if math.isnan(value):
                raise ValueError(f"{name} is NaN")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence {self.min_confidence} is outside [0, 1]")
        if self.min_rsi > self.max_rsi:
            raise ValueError(f"min_rsi {self.min_rsi} is above max_rsi {self.max_rsi}")
        if self.page_size < 1:
            raise ValueError(f"page_size {self.page_size} is below 1")
        if self.after is not None:
            _check_cursor(self.after, self.sort_by)

    @classmethod
    def of(
        cls,
        spec: PatternFilterSpec,
        *,
        sort_by: ScanSortField = ScanSortField.CONFIDENCE,
        descending: bool = True,
        page_size: int = 30,
        after: ScanCursor | None = None,
    ) -> ScanQuery:
        """The query of `spec`'s filters in the given order and page (same checks as the constructor)."""
        return cls(
            pattern_types=spec.pattern_types,
            symbols=spec.symbols,
            min_confidence=spec.min_confidence,
            min_relative_strength=spec.min_relative_strength,
            min_relative_volume=spec.min_relative_volume,
            min_rsi=spec.min_rsi,
            max_rsi=spec.max_rsi,
            timeframes=spec.timeframes,
            sort_by=sort_by,
            descending=descending,
            page_size=page_size,
            after=after,
        )

    def matches(self, pattern: Pattern) -> bool:
        """Whether `pattern` passes every filter of this query (expiry is the caller's concern)."""
        if self.pattern_types and pattern.pattern_type not in self.pattern_types:
            return False
        if self.symbols is not None and pattern.symbol not in self.symbols:
            return False
        if self.timeframes and pattern.timeframe not in self.timeframes:
            return False
        indicators = pattern.indicators
        return (
            pattern.confidence >= self.min_confidence
            and indicator_or(indicators.relative_strength, MISSING_RELATIVE_STRENGTH)
            >= self.min_relative_strength
            and indicator_or(indicators.relative_volume, MISSING_RELATIVE_VOLUME) >= self.min_relative_volume
            and self.min_rsi <= indicator_or(indicators.rsi, MISSING_RSI) <= self.max_rsi
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanPage:
    """One page of a scan."""

    patterns: tuple[Pattern, ...]
    """At most `ScanQuery.page_size` patterns, in the query's order."""
    total_size: int
    """Patterns matching the filters at scan time, on all pages (the cursor does not reduce it)."""
    next_cursor: ScanCursor | None
    """Cursor for the next page; None when this is the last page."""


def indicator_or(value: float | None, missing: float) -> float:
    """`value`, or `missing` when it is None or NaN."""
    if value is None or math.isnan(value):
        return missing
    return value


def sort_key(pattern: Pattern, field: ScanSortField) -> SortKey:
    """Value of `field` for `pattern`, as scans order by it (missing indicators count as 1.0)."""
    if field is ScanSortField.CONFIDENCE:
        return pattern.confidence
    if field is ScanSortField.DETECTED:
        return pattern.detected_ns
    if field is ScanSortField.SYMBOL:
        return pattern.symbol
    if field is ScanSortField.RELATIVE_STRENGTH:
        return indicator_or(pattern.indicators.relative_strength, MISSING_RELATIVE_STRENGTH)
    return indicator_or(pattern.indicators.relative_volume, MISSING_RELATIVE_VOLUME)


def cursor_after(pattern: Pattern, field: ScanSortField) -> ScanCursor:
    """The cursor positioned just after `pattern` in a scan sorted by `field`."""
    return ScanCursor(sort_key=sort_key(pattern, field), pattern_id=pattern.pattern_id)


def _check_cursor(cursor: ScanCursor, field: ScanSortField) -> None:
    key = cursor.sort_key
    for text in (cursor.pattern_id, key):
        if isinstance(text, str) and ("\0" in text or not _is_utf8_encodable(text)):
            raise ValueError("a cursor's id and symbol must be UTF-8 text without NUL")
    if field is ScanSortField.SYMBOL:
        if not isinstance(key, str):
            raise ValueError("a cursor of a scan sorted by symbol needs a str key")
    elif field is ScanSortField.DETECTED:
        if isinstance(key, bool) or not isinstance(key, int):
            raise ValueError("a cursor of a scan sorted by detection time needs an int key (ns)")
    elif isinstance(key, bool) or not isinstance(key, int | float) or math.isnan(key):
        raise ValueError(f"a cursor of a scan sorted by {field.value} needs a numeric key")


def _is_utf8_encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
