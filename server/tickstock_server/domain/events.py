"""Detected market events: the common fields and each detector's typed details."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tickstock_server.domain.patterns import PatternIndicators, PatternSource, PatternTimeframe


class EventType(enum.Enum):
    """The kind of a market event."""

    HIGH = "high"
    LOW = "low"
    TREND = "trend"
    SURGE = "surge"
    PATTERN = "pattern"


class Direction(enum.Enum):
    """Direction of a move."""

    UP = "up"
    DOWN = "down"


class MarketStatus(enum.Enum):
    """US equity market session, in US/Eastern."""

    PRE = "pre"
    REGULAR = "regular"
    AFTER = "after"
    CLOSED = "closed"


class MarketPeriod(enum.Enum):
    """Finer period of the trading day, in US/Eastern; detector thresholds depend on it."""

    PREMARKET = "premarket"
    OPENING = "opening"
    MIDDAY = "midday"
    CLOSING = "closing"
    AFTERHOURS = "afterhours"
    CLOSED = "closed"


class ReversalType(enum.Enum):
    """Shape of a high/low reversal."""

    V_BOTTOM = "v_bottom"
    V_TOP = "v_top"


class ReversalPattern(enum.Enum):
    """Multi-event reversal pattern over a symbol's last high/low events."""

    W_BOTTOM = "w_bottom"
    M_TOP = "m_top"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReversalInfo:
    """A reversal between a symbol's previous high/low event and the current one."""

    type: ReversalType
    pattern: ReversalPattern | None
    """W-bottom or M-top when the last four events form one."""
    time_span_ns: int
    """Event time between the previous event and this one."""
    rapid: bool
    """Whether the reversal happened within 60 s."""
    previous_type: EventType
    previous_price: float


@dataclass(frozen=True, slots=True, kw_only=True)
class HighLowThresholds:
    """Thresholds a high/low event passed."""

    min_price_change: float
    """Minimum move against the previous extreme, currency units."""
    min_percent_change: float
    """Minimum move against the previous extreme, percent."""
    cooldown_ns: int
    """Minimum event time between two high/low events of one symbol."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HighLowDetails:
    """Details of a new session high or low."""

    session_high: float
    """Session high after this event."""
    session_low: float
    """Session low after this event."""
    previous_high: float
    """Session high before this event."""
    previous_low: float
    """Session low before this event."""
    significance_score: float
    """0 to 100: half price move, half relative volume."""
    trend_flag: Direction | None
    surge_flag: Direction | None
    reversal_info: ReversalInfo | None
    thresholds: HighLowThresholds


class TrendStrength(enum.Enum):
    """Strength class of a trend."""

    WEAK = "weak"
    """Combined score beyond the direction threshold."""
    MODERATE = "moderate"
    """Beyond twice the direction threshold."""
    STRONG = "strong"
    """Beyond the strength threshold."""


class VwapPosition(enum.Enum):
    """Price against the day VWAP."""

    ABOVE = "above"
    BELOW = "below"


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendThresholds:
    """Thresholds a trend event was classified with, after every period, bucket and volatility factor."""

    direction_threshold: float
    """|combined score| needed for a direction."""
    strength_threshold: float
    """|combined score| needed for a strong trend."""
    volatility_multiplier: float
    """Factor applied for the symbol's recent volatility (0.7 high, 1.0 normal, 1.3 low)."""
    emission_interval_ns: int
    """Minimum event time between two emissions in the same direction."""
    min_points_per_window: int
    """One-second points a window needs before it scores."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendDetails:
    """Details of a trend event."""

    strength: TrendStrength
    score: float
    """Combined score, -1 to 1 (0.3 short + 0.4 medium + 0.3 long)."""
    short_score: float
    """Score over the short window (180 s), -1 to 1."""
    medium_score: float
    """Score over the medium window (360 s), -1 to 1."""
    long_score: float
    """Score over the long window (600 s), -1 to 1."""
    vwap_position: VwapPosition | None
    """None when the tick has no VWAP."""
    age_ns: int
    """Event time since this trend direction was first emitted."""
    thresholds: TrendThresholds


class SurgeStrength(enum.Enum):
    """Strength class of a surge, from its score."""

    WEAK = "weak"
    """Score below 60."""
    MODERATE = "moderate"
    """Score 60 to 80."""
    STRONG = "strong"
    """Score 80 or more."""


class SurgeTrigger(enum.Enum):
    """Which condition triggered a surge."""

    PRICE = "price"
    VOLUME = "volume"
    PRICE_AND_VOLUME = "price_and_volume"
    PRICE_DRIVEN = "price_driven"
    """Adaptive mode: a large price move with somewhat raised volume."""
    VOLUME_DRIVEN = "volume_driven"
    """Adaptive mode: a large volume with a moderate price move."""


class SurgeMode(enum.Enum):
    """How the surge detector combines its price and volume conditions."""

    STRICT = "strict"
    """Price AND volume."""
    OR = "or"
    """Price OR volume."""
    ADAPTIVE = "adaptive"
    """Both, or one strongly with the other partly."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SurgeThresholds:
    """Thresholds a surge event passed, after every period, band and volatility factor."""

    min_percent_change: float
    """Minimum move against the baseline, percent."""
    min_price_change: float
    """Minimum move against the baseline, currency units."""
    min_volume_multiplier: float
    """Minimum volume relative to the baseline's mean volume."""
    mode: SurgeMode
    baseline_interval_ns: int
    """Age of the baseline the move is measured against."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SurgeDetails:
    """Details of a surge event."""

    magnitude: float
    """Signed move against the baseline, percent."""
    score: float
    """0 to 100: up to 50 for price, up to 50 for volume."""
    strength: SurgeStrength
    trigger: SurgeTrigger
    volume_multiplier: float
    """Current volume relative to the baseline's mean volume."""
    baseline_price: float
    expire_ns: int
    """Event time after which the surge is no longer current (event time + 30 s)."""
    daily_count: int
    """Surges of this symbol in the session, including this one."""
    description: str
    """Short description, e.g. "up price & volume"."""
    thresholds: SurgeThresholds


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternDetails:
    """Details of a pattern event: the chart pattern as the producer or the fallback detector reported it."""

    pattern_id: str
    """The pattern's unique id (also the event's id)."""
    pattern_type: str
    """Name as the producer spells it, e.g. "Bull_Flag"."""
    confidence: float
    """0 to 1."""
    price_change_pct: float
    """Price change reported with the pattern, percent (0 when not reported)."""
    expires_ns: int
    """Time after which the pattern is no longer current, UTC epoch ns."""
    timeframe: PatternTimeframe | None
    """None when the producer did not say."""
    source: PatternSource
    indicators: PatternIndicators
    flow_id: str
    """The producer's trace id; empty when not given."""


EventDetails = HighLowDetails | TrendDetails | SurgeDetails | PatternDetails
"""The union of every detector's details type."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """A detected market event.

    A detector's event derives from ticks only, so replays reproduce it exactly. A PATTERN event is a
    pattern the producer (or the fallback detector) reported (`domain.pattern_events`).
    """

    event_id: str
    """Unique. A detector's: derived from symbol, type, event time and the symbol's event count; a
    pattern's: the pattern id."""
    symbol: str
    type: EventType
    direction: Direction
    price: float
    """Price of the tick that produced the event."""
    ts_ns: int
    """Event time of that tick, UTC epoch nanoseconds."""
    market_status: MarketStatus
    market_period: MarketPeriod
    detector_version: str
    """e.g. "high_low/1"."""
    config_hash: str
    """Stable hex hash of the detector's configuration."""
    details: EventDetails
    reversal: bool = False
    count: int = 0
    """Events of this detector for this symbol in the session (up plus down)."""
    count_up: int = 0
    count_down: int = 0
    percent_change: float = 0.0
    """Change against the session's base price, percent."""
    vwap: float | None = None
    vwap_divergence: float = 0.0
    """(price - vwap) / vwap in percent; 0 without vwap."""
    volume: int = 0
    relative_volume: float = 0.0
    label: str = ""
