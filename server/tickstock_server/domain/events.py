"""Detected market events: the common fields and each detector's typed details."""

from __future__ import annotations

import enum
from dataclasses import dataclass


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


EventDetails = HighLowDetails
"""The union of every detector's details type; grows as detectors are added."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """A detected market event. Every field derives from ticks only, so replays reproduce it exactly."""

    event_id: str
    """Unique and deterministic: derived from symbol, type, event time and the symbol's event count."""
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
