"""Chart patterns reported by the pattern producer (TickStockPL) or the local fallback detector."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PatternTimeframe(enum.Enum):
    """Bars a pattern was detected on."""

    DAILY = "daily"
    INTRADAY = "intraday"
    COMBO = "combo"


class PatternSource(enum.Enum):
    """Who detected a pattern."""

    PRODUCER = "producer"
    """The TickStockPL pattern producer."""
    FALLBACK = "fallback"
    """TickStock's local fallback detector, active while the producer is silent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternIndicators:
    """Indicator values reported with a pattern; None when the producer sent none."""

    relative_strength: float | None = None
    """Relative strength against the market (1.0 = in line)."""
    relative_volume: float | None = None
    """Volume relative to the symbol's average (1.0 = average)."""
    rsi: float | None = None
    """Relative strength index, 0 to 100."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Pattern:
    """A pattern on one symbol, current until `expires_ns`."""

    pattern_id: str
    """Unique id; never reused, also for two patterns of one symbol and type within a second."""
    symbol: str
    pattern_type: str
    """Name as the producer spells it, e.g. "Bull_Flag", "Doji"."""
    confidence: float
    """0 to 1."""
    price: float | None
    """Price when detected, when reported."""
    price_change_pct: float
    """Price change the producer reported with the pattern, in percent (0 when not reported)."""
    detected_ns: int
    """Detection time, UTC epoch ns."""
    expires_ns: int
    """Time after which the pattern is no longer current, UTC epoch ns."""
    timeframe: PatternTimeframe | None
    """None when the producer did not say."""
    source: PatternSource
    indicators: PatternIndicators = PatternIndicators()
    flow_id: str = ""
    """The producer's trace id, when given."""
