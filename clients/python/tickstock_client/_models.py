"""What the API returns, as frozen dataclasses.

Times are timezone-aware UTC datetimes, durations are timedeltas, enumerations are `enum.Enum`s whose
values are the lower-case proto names.

A value this client version does not know (a newer server's enum value) reads as `UNKNOWN` rather than
failing the call or the stream.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "Bar",
    "BarInterval",
    "Direction",
    "Dropped",
    "Event",
    "EventFilter",
    "EventType",
    "FilterPreset",
    "Gap",
    "GapReason",
    "HighLowDetails",
    "MarketStatus",
    "Pattern",
    "PatternDetails",
    "PatternFilter",
    "PatternSort",
    "ReplayCompleted",
    "ResumeToken",
    "SessionToken",
    "StreamItem",
    "SurgeDetails",
    "SurgeStrength",
    "Symbol",
    "TrendDetails",
    "TrendStrength",
    "Universe",
    "Watchlist",
]


class EventType(enum.Enum):
    """What an event reports."""

    UNKNOWN = "unknown"
    HIGH = "high"
    LOW = "low"
    TREND = "trend"
    SURGE = "surge"
    PATTERN = "pattern"


class Direction(enum.Enum):
    """Up or down; UNKNOWN when the event has none."""

    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


class TrendStrength(enum.Enum):
    """How strong a trend is, weakest first; a filter's minimum."""

    UNKNOWN = "unknown"
    WEAK = "weak"
    MODERATE = "moderate"
    STRONG = "strong"


class SurgeStrength(enum.Enum):
    """How strong a surge is (weak below score 60, strong from 80), weakest first; a filter's minimum."""

    UNKNOWN = "unknown"
    WEAK = "weak"
    MODERATE = "moderate"
    STRONG = "strong"


class MarketStatus(enum.Enum):
    """The market's state when the event happened."""

    UNKNOWN = "unknown"
    PRE = "pre"
    REGULAR = "regular"
    AFTER = "after"
    CLOSED = "closed"


class GapReason(enum.Enum):
    """Why a range of the event log cannot be replayed."""

    UNKNOWN = "unknown"
    AGED_OUT = "aged_out"
    EPOCH_CHANGED = "epoch_changed"
    NOT_PERSISTED = "not_persisted"
    REPLAY_LIMIT = "replay_limit"


class PatternSort(enum.Enum):
    """What a pattern scan is ordered by."""

    CONFIDENCE = "confidence"
    DETECT_TIME = "detect_time"
    SYMBOL = "symbol"
    RELATIVE_STRENGTH = "relative_strength"
    RELATIVE_VOLUME = "relative_volume"


class BarInterval(enum.Enum):
    """Length of a bar."""

    ONE_MINUTE = "1m"
    FIVE_MINUTES = "5m"
    FIFTEEN_MINUTES = "15m"
    ONE_HOUR = "1h"
    ONE_DAY = "1d"


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeToken:
    """A position in the server's event log: everything up to `seq` of `epoch` has been received.

    Persist it (`str(token)`, `ResumeToken.parse`) to continue a stream after a restart of your program.
    """

    epoch: str
    seq: int

    def __str__(self) -> str:
        return f"{self.epoch}:{self.seq}"

    @classmethod
    def parse(cls, text: str) -> ResumeToken:
        """Read a token written by `str(token)`; ValueError when `text` is not one."""
        epoch, separator, seq = text.strip().rpartition(":")
        if not separator or not epoch or not seq.isdigit():
            raise ValueError(f"not a resume token: {text[:80]!r}")
        return cls(epoch=epoch, seq=int(seq))


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFilter:
    """Which events a stream delivers; empty fields select everything."""

    symbols: tuple[str, ...] = ()
    universes: tuple[str, ...] = ()
    watchlist_ids: tuple[str, ...] = ()
    event_types: tuple[EventType, ...] = ()
    directions: tuple[Direction, ...] = ()
    min_significance: float | None = None
    """Minimum significance score of HIGH and LOW events, 0 to 100."""
    min_trend_strength: TrendStrength | None = None
    """Minimum strength of TREND events; other types pass it."""
    min_surge_strength: SurgeStrength | None = None
    """Minimum strength of SURGE events; other types pass it."""
    min_price: float | None = None
    max_price: float | None = None
    min_volume: int | None = None
    max_volume: int | None = None
    min_pattern_confidence: float | None = None
    """Minimum confidence of PATTERN events, 0 to 1; other types pass it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FilterPreset:
    """A named event filter saved for this user."""

    name: str
    filter: EventFilter
    update_time: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternFilter:
    """Which patterns a scan or pattern stream selects; empty fields select everything."""

    pattern_types: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()
    universes: tuple[str, ...] = ()
    min_confidence: float | None = None
    min_relative_strength: float | None = None
    min_relative_volume: float | None = None
    min_rsi: float | None = None
    max_rsi: float | None = None
    timeframes: tuple[str, ...] = ()
    """"daily", "intraday" or "combo"."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HighLowDetails:
    """A new session high or low."""

    session_high: float
    session_low: float
    previous_high: float
    previous_low: float
    significance_score: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendDetails:
    """A trend over the short, medium and long windows."""

    strength: str
    score: float
    short_score: float
    medium_score: float
    long_score: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SurgeDetails:
    """A price or volume surge."""

    magnitude: float
    score: float
    strength: str
    trigger: str
    volume_multiplier: float
    baseline_price: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternDetails:
    """A chart pattern from the pattern producer or the fallback detector."""

    pattern_id: str
    pattern_type: str
    confidence: float
    timeframe: str
    source: str
    expire_time: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Pattern:
    """A pattern on one symbol, from the pattern producer or the fallback detector."""

    symbol: str
    price: float
    detect_time: datetime | None
    details: PatternDetails


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One market event; `(epoch, seq)` names it forever."""

    epoch: str
    seq: int
    event_id: str
    symbol: str
    type: EventType
    direction: Direction
    price: float
    event_time: datetime
    ingest_time: datetime | None
    detect_time: datetime | None
    volume: int
    percent_change: float
    label: str
    market_status: MarketStatus
    details: HighLowDetails | TrendDetails | SurgeDetails | PatternDetails | None

    @property
    def resume_token(self) -> ResumeToken:
        """The position just after this event."""
        return ResumeToken(epoch=self.epoch, seq=self.seq)


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    """Events of the log the server can no longer replay to this stream, and why."""

    from_seq: int
    to_seq: int
    missed_count: int
    """Log entries in the range (every symbol and type); exact unless `missed_count_is_upper_bound`."""
    reason: GapReason
    missed_count_is_upper_bound: bool = False
    """The range holds seqs the server skipped when it restarted after a crash, some never issued:
    `missed_count` is the most events that can have been missed, not their exact number."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Dropped:
    """Events the server's slow-consumer policy dropped or coalesced because this client fell behind."""

    dropped_count: int
    first_dropped_seq: int
    last_dropped_seq: int
    total_dropped: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayCompleted:
    """The stream has delivered every missed event since the resume token; live events follow."""

    replayed_count: int


StreamItem = Event | Gap | Dropped | ReplayCompleted
"""What `stream_events` yields: events, and every notice about what could not be delivered."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    """OHLCV of one symbol over one interval."""

    symbol: str
    start_time: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Symbol:
    """A listed instrument."""

    symbol: str
    name: str
    exchange: str
    market: str
    type: str
    sector: str
    industry: str
    active: bool
    market_cap: int
    currency: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Universe:
    """A named set of symbols (an index, an ETF's holdings, a sector, a theme)."""

    name: str
    description: str
    kind: str
    member_count: int
    symbols: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Watchlist:
    """One of the caller's watchlists."""

    watchlist_id: str
    name: str
    symbols: tuple[str, ...]
    create_time: datetime | None
    update_time: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionToken:
    """A short-lived token that stands for an API key (`AuthService.CreateSessionToken`)."""

    token: str
    user: str
    expire_time: datetime

    def __repr__(self) -> str:
        # Never print the secret itself.
        return f"SessionToken(user={self.user!r}, expire_time={self.expire_time!r})"
