"""`CacheEntry`: a cached pattern with its scan fields flattened, as the pattern cache's indexes hold it."""

from __future__ import annotations

import math

from tickstock_server.domain.patterns import Pattern
from tickstock_server.patterns.scan import (
    MISSING_RELATIVE_STRENGTH,
    MISSING_RELATIVE_VOLUME,
    MISSING_RSI,
    indicator_or,
)

_INT64_MIN, _INT64_END = -(1 << 63), 1 << 63


class CacheEntry:
    """A cached pattern with its scan fields flattened (missing indicators already defaulted).

    Hashed and compared by identity.
    """

    __slots__ = (
        "confidence",
        "detected_ns",
        "expires_ns",
        "pattern",
        "pattern_id",
        "pattern_type",
        "relative_strength",
        "relative_volume",
        "rsi",
        "slot",
        "symbol",
        "timeframe",
    )

    def __init__(self, pattern: Pattern) -> None:
        indicators = pattern.indicators
        self.pattern = pattern
        self.pattern_id = pattern.pattern_id
        self.symbol = pattern.symbol
        self.pattern_type = pattern.pattern_type
        self.timeframe = pattern.timeframe
        self.confidence = pattern.confidence
        self.detected_ns = pattern.detected_ns
        self.expires_ns = pattern.expires_ns
        self.relative_strength = indicator_or(indicators.relative_strength, MISSING_RELATIVE_STRENGTH)
        self.relative_volume = indicator_or(indicators.relative_volume, MISSING_RELATIVE_VOLUME)
        self.rsi = indicator_or(indicators.rsi, MISSING_RSI)
        self.slot = -1  # row in PatternColumns, set when added


def check_indexable(pattern: Pattern) -> None:
    """Raise ValueError for a pattern the indexes cannot hold, before any of them changes."""
    if not math.isfinite(pattern.confidence):
        raise ValueError(f"pattern {pattern.pattern_id!r} has a non-finite confidence")
    if not _INT64_MIN <= pattern.detected_ns < _INT64_END:
        raise ValueError(f"pattern {pattern.pattern_id!r} has a detection time outside int64")
    for text in (pattern.pattern_id, pattern.symbol):
        # Index keys are UTF-8 with NUL as terminator (see cache_index).
        if "\0" in text:
            raise ValueError(f"pattern {pattern.pattern_id!r} has NUL in its id or symbol")
        text.encode()  # UnicodeEncodeError (a ValueError) for lone surrogates
