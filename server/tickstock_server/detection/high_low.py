"""Session high/low detector: new session extremes per symbol, with significance and reversal shapes."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from tickstock_server.detection.config_hash import config_hash
from tickstock_server.detection.event_fields import session_percent_change, usable_price, vwap_divergence
from tickstock_server.detection.volume_ring import VolumeRing
from tickstock_server.domain.events import (
    Direction,
    Event,
    EventType,
    HighLowDetails,
    HighLowThresholds,
    MarketStatus,
    ReversalInfo,
    ReversalPattern,
    ReversalType,
)
from tickstock_server.domain.market_session import MarketSession
from tickstock_server.domain.tick import Tick
from tickstock_server.support.time_units import NS_PER_S

__all__ = ["DEFAULT_PRICE_TIERS", "DETECTOR_VERSION", "HighLowConfig", "HighLowDetector", "PriceTier"]

DETECTOR_VERSION = "high_low/1"
"""Version tag carried by every event of this detector; bump it when its behaviour changes."""


# Prices are decimal quotes, but binary floats make an exact-tier move land a hair short
# (100.10 - 100.00 == 0.0999999999999943), so the gates allow this much slack.
_GATE_EPSILON = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceTier:
    """Minimum-move multipliers for prices below a bound (original `get_price_thresholds`)."""

    below_price: float
    """Exclusive upper bound of the tier's price range, currency units; `math.inf` for the top tier."""
    price_change_factor: float
    """Multiplier on `HighLowConfig.min_price_change` for this tier."""
    percent_change_factor: float
    """Multiplier on `HighLowConfig.min_percent_change` for this tier."""


DEFAULT_PRICE_TIERS: tuple[PriceTier, ...] = (
    PriceTier(below_price=1.0, price_change_factor=0.5, percent_change_factor=2.0),
    PriceTier(below_price=5.0, price_change_factor=1.0, percent_change_factor=1.5),
    PriceTier(below_price=25.0, price_change_factor=2.0, percent_change_factor=1.0),
    PriceTier(below_price=100.0, price_change_factor=5.0, percent_change_factor=0.8),
    PriceTier(below_price=math.inf, price_change_factor=10.0, percent_change_factor=0.5),
)
"""Tiers of the original: $0.005/0.20%, $0.01/0.15%, $0.02/0.10%, $0.05/0.08%, $0.10/0.05%."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HighLowConfig:
    """Constants of the high/low detector (the original application's values)."""

    min_price_change: float = 0.01
    """Base minimum move beyond the previous extreme, currency units; scaled per price tier."""
    min_percent_change: float = 0.1
    """Base minimum move beyond the previous extreme, percent; scaled per price tier."""
    cooldown_ns: int = 1 * NS_PER_S
    """Minimum event time between two high/low events of one symbol (shared by highs and lows)."""
    significance_volume_weight: float = 0.5
    """Weight of the volume score in the 0-100 significance score; the price score gets the rest."""
    reversal_window_ns: int = 300 * NS_PER_S
    """An opposite event at most this long after the previous one is a V-top or V-bottom."""
    rapid_reversal_ns: int = 60 * NS_PER_S
    """A reversal faster than this is flagged rapid."""
    price_tiers: tuple[PriceTier, ...] = DEFAULT_PRICE_TIERS
    """Tiers in ascending `below_price` order; the last one must be unbounded."""
    volume_history_size: int = 20
    """Positive tick volumes kept for the average volume."""
    volume_history_min: int = 5
    """Volumes needed before the average (and thus relative volume) is known."""

    def __post_init__(self) -> None:
        if self.min_price_change <= 0 or self.min_percent_change <= 0:
            raise ValueError("minimum price and percent changes must be positive")
        if self.cooldown_ns < 0 or self.reversal_window_ns < 0 or self.rapid_reversal_ns < 0:
            raise ValueError("durations must not be negative")
        if not 0.0 <= self.significance_volume_weight <= 1.0:
            raise ValueError("significance_volume_weight must lie in [0, 1]")
        if not 1 <= self.volume_history_min <= self.volume_history_size:
            raise ValueError("need 1 <= volume_history_min <= volume_history_size")
        bounds = [tier.below_price for tier in self.price_tiers]
        if not bounds or bounds[-1] != math.inf or bounds != sorted(set(bounds)):
            raise ValueError("price_tiers must be strictly ascending and end with below_price=inf")

    @property
    def config_hash(self) -> str:
        """Stable short hex SHA-256 of every field; equal configurations give equal hashes."""
        return config_hash(self)


@dataclass(frozen=True, slots=True)
class _ResolvedTier:
    below_price: float
    min_price_change: float
    min_percent_change: float
    thresholds: HighLowThresholds


@functools.lru_cache(maxsize=64)
def _resolve_tiers(config: HighLowConfig) -> tuple[_ResolvedTier, ...]:
    # Resolved once per configuration and shared by every symbol's detector; rounding keeps the
    # reported thresholds as written (0.1 * 1.5 would otherwise be 0.15000000000000002).
    tiers = []
    for tier in config.price_tiers:
        min_price = round(config.min_price_change * tier.price_change_factor, 12)
        min_percent = round(config.min_percent_change * tier.percent_change_factor, 12)
        thresholds = HighLowThresholds(
            min_price_change=min_price, min_percent_change=min_percent, cooldown_ns=config.cooldown_ns
        )
        tiers.append(_ResolvedTier(tier.below_price, min_price, min_percent, thresholds))
    return tuple(tiers)


class HighLowDetector:
    """New session highs and lows of one symbol: a pure, synchronous state machine.

    Per tick, in order:

    1. A positive volume joins the rolling volume history (its mean is the average volume).
    2. On the first tick, or when the session key changes (status or ET date), the session restarts:
       highs, lows, counts and reversal history reset; no event. The first session is seeded from
       the official open in REGULAR (`tick.open_price > 0`) and then widened to the first price;
       otherwise, and on every later session change, high = low = the tick's price.
    3. `price > session_high` is a candidate high; otherwise `price < session_low` is a candidate low.
    4. A candidate is dropped within `cooldown_ns` of the symbol's previous event (event time), or
       when it beats the previous extreme by less than both the tier's minimum $ and minimum %.
       A dropped candidate leaves the extremes unchanged, so a slow creep still emits once it has
       moved far enough.
    5. Otherwise the extreme moves to the price and one event is returned.

    Differences from the original (bugs fixed): the minimum-change gate measures against the
    previous extreme (not the session open); time comes from `tick.ts_ns` only; a session change
    also resets the counts; labels have no leading space; event ids are deterministic.
    """

    __slots__ = (
        "_base_price",
        "_ceiling",
        "_config_hash",
        "_event_types",
        "_floor",
        "_high",
        "_high_count",
        "_last_event_ns",
        "_last_event_price",
        "_last_event_type",
        "_low",
        "_low_count",
        "_session_key",
        "_tiers",
        "_volume_min",
        "_volumes",
        "config",
        "symbol",
    )

    def __init__(self, symbol: str, config: HighLowConfig | None = None) -> None:
        """Create the detector of one symbol.

        Args:
            symbol: The symbol whose ticks this detector receives.
            config: Thresholds and windows; the original's defaults when omitted.
        """
        self.symbol = symbol
        self.config = config = config if config is not None else HighLowConfig()
        self._config_hash = config.config_hash
        self._tiers = _resolve_tiers(config)
        self._volume_min = config.volume_history_min
        self._volumes = VolumeRing(config.volume_history_size)
        # The last three event types, oldest first: all the W-bottom/M-top shapes look at.
        self._event_types: tuple[EventType, ...] = ()
        self._session_key: int | None = None
        self._high = self._low = self._base_price = 0.0
        self._ceiling = self._floor = 0.0
        self._high_count = self._low_count = 0
        self._last_event_ns: int | None = None
        self._last_event_type: EventType | None = None
        self._last_event_price = 0.0

    def reset(self) -> None:
        """Forget everything: the next tick starts a new session as if it were the first."""
        self._volumes.clear()
        self._start(None, 0.0, 0.0, 0.0)

    @property
    def session_high(self) -> float | None:
        """The session's true high so far (every price, and the official open), or None before a tick.

        Not the last emitted HIGH: a candidate the cooldown or the minimum-change gate dropped still
        raised the session's high.
        """
        return None if self._session_key is None else self._ceiling

    @property
    def session_low(self) -> float | None:
        """The session's true low so far, or None before the first tick; see `session_high`."""
        return None if self._session_key is None else self._floor

    @property
    def retained_items(self) -> int:
        """History entries held (volumes and recent event types); bounded by the configuration."""
        return self._volumes.count + len(self._event_types)

    def _start(self, session_key: int | None, high: float, low: float, base_price: float) -> None:
        self._session_key = session_key
        self._high = self._ceiling = high
        self._low = self._floor = low
        self._base_price = base_price
        self._high_count = 0
        self._low_count = 0
        self._last_event_ns = None
        self._last_event_type = None
        self._last_event_price = 0.0
        self._event_types = ()

    def update(
        self,
        tick: Tick,
        session: MarketSession,
        trend_flag: Direction | None = None,
        surge_flag: Direction | None = None,
    ) -> Event | None:
        """Feed one valid tick of this symbol; return the event it produces, if any.

        Args:
            tick: A validated tick (price > 0 and finite, volume >= 0) of `self.symbol`.
            session: The market session of `tick.ts_ns`.
            trend_flag: The symbol's trend direction including this tick, recorded on the event.
            surge_flag: The direction of the symbol's unexpired surge including this tick, recorded too.
        """
        volume = tick.volume
        if volume > 0:
            self._volumes.add(volume)

        price = tick.price
        if session.key != self._session_key:
            self._start_session(tick, session)
            return None
        if price > self._ceiling:
            self._ceiling = price
        elif price < self._floor:
            self._floor = price
        if price > self._high:
            event_type, move, extreme = EventType.HIGH, price - self._high, self._high
        elif price < self._low:
            event_type, move, extreme = EventType.LOW, self._low - price, self._low
        else:
            return None
        last_event_ns = self._last_event_ns
        if last_event_ns is not None and tick.ts_ns - last_event_ns < self.config.cooldown_ns:
            return None
        for tier in self._tiers:  # at most five comparisons
            if price < tier.below_price:
                break
        if (
            move < tier.min_price_change - _GATE_EPSILON
            and move / extreme * 100.0 < tier.min_percent_change - _GATE_EPSILON
        ):
            return None
        return self._emit(tick, session, event_type, tier.thresholds, trend_flag, surge_flag)

    def _start_session(self, tick: Tick, session: MarketSession) -> None:
        price = tick.price
        first = self._session_key is None
        open_price = usable_price(tick.open_price)
        if first and session.status is MarketStatus.REGULAR and open_price is not None:
            self._start(session.key, max(open_price, price), min(open_price, price), open_price)
        else:
            self._start(session.key, price, price, price)

    def _emit(
        self,
        tick: Tick,
        session: MarketSession,
        event_type: EventType,
        thresholds: HighLowThresholds,
        trend_flag: Direction | None,
        surge_flag: Direction | None,
    ) -> Event:
        price = tick.price
        ts_ns = tick.ts_ns
        previous_high = self._high
        previous_low = self._low
        if event_type is EventType.HIGH:
            self._high = price
            self._high_count += 1
            type_count = self._high_count
            direction = Direction.UP
            label = f"HIGH #{type_count}"
        else:
            self._low = price
            self._low_count += 1
            type_count = self._low_count
            direction = Direction.DOWN
            label = f"LOW #{type_count}"
        count = self._high_count + self._low_count

        reversal_info = self._reversal(event_type, ts_ns)
        self._last_event_ns = ts_ns
        self._last_event_type = event_type
        self._last_event_price = price
        self._event_types = (*self._event_types[-2:], event_type)

        percent_change = session_percent_change(tick, session, self._base_price)

        volume = tick.volume
        volumes = self._volumes
        average_volume = volumes.total / volumes.count if volumes.count >= self._volume_min else 0.0
        relative_volume = volume / average_volume if average_volume > 0 else 0.0
        weight = self.config.significance_volume_weight
        price_score = min(abs(percent_change) * 10.0, 50.0)
        volume_score = min(relative_volume * 25.0, 50.0)
        significance = price_score * (1.0 - weight) + volume_score * weight

        vwap = usable_price(tick.vwap)

        details = HighLowDetails(
            session_high=self._high,
            session_low=self._low,
            previous_high=previous_high,
            previous_low=previous_low,
            significance_score=significance,
            trend_flag=trend_flag,
            surge_flag=surge_flag,
            reversal_info=reversal_info,
            thresholds=thresholds,
        )
        return Event(
            event_id=f"{self.symbol}:{event_type.value}:{ts_ns}:{count}",
            symbol=self.symbol,
            type=event_type,
            direction=direction,
            price=price,
            ts_ns=ts_ns,
            market_status=session.status,
            market_period=session.period,
            detector_version=DETECTOR_VERSION,
            config_hash=self._config_hash,
            details=details,
            reversal=reversal_info is not None,
            count=count,
            count_up=self._high_count,
            count_down=self._low_count,
            percent_change=percent_change,
            vwap=vwap,
            vwap_divergence=vwap_divergence(price, vwap),
            volume=volume,
            relative_volume=relative_volume,
            label=label,
        )

    def _reversal(self, event_type: EventType, ts_ns: int) -> ReversalInfo | None:
        previous_type = self._last_event_type
        last_event_ns = self._last_event_ns
        if previous_type is None or previous_type is event_type or last_event_ns is None:
            return None
        time_span_ns = ts_ns - last_event_ns
        if time_span_ns > self.config.reversal_window_ns:
            return None
        history = self._event_types
        pattern: ReversalPattern | None = None
        if len(history) == 3 and history[0] is previous_type and history[1] is event_type:
            # history[2] is previous_type: low, high, low then high is a W; the mirror is an M.
            pattern = ReversalPattern.W_BOTTOM if event_type is EventType.HIGH else ReversalPattern.M_TOP
        return ReversalInfo(
            type=ReversalType.V_BOTTOM if event_type is EventType.HIGH else ReversalType.V_TOP,
            pattern=pattern,
            time_span_ns=time_span_ns,
            rapid=time_span_ns < self.config.rapid_reversal_ns,
            previous_type=previous_type,
            previous_price=self._last_event_price,
        )
