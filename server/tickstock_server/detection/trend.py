"""Trend detector: direction and strength of a symbol's recent moves over three event-time windows."""

from __future__ import annotations

from tickstock_server.detection.event_fields import session_percent_change, usable_price, vwap_divergence
from tickstock_server.detection.price_bucket import (
    PriceBucket,
    VolatilityClass,
    price_bucket,
    volatility_class,
)
from tickstock_server.detection.trend_config import (
    ResolvedPeriod,
    ResolvedThresholds,
    TrendBucketConfig,
    TrendConfig,
    TrendPeriodConfig,
    resolve_thresholds,
)
from tickstock_server.detection.trend_windows import TrendWindows
from tickstock_server.domain.events import (
    Direction,
    Event,
    EventType,
    MarketPeriod,
    TrendDetails,
    TrendStrength,
    VwapPosition,
)
from tickstock_server.domain.market_session import MarketSession
from tickstock_server.domain.tick import Tick
from tickstock_server.support.time_units import NS_PER_S

__all__ = ["DETECTOR_VERSION", "TrendBucketConfig", "TrendConfig", "TrendDetector", "TrendPeriodConfig"]

DETECTOR_VERSION = "trend/1"
"""Version tag carried by every event of this detector; bump it when its behaviour changes."""

_UP = Direction.UP
_DOWN = Direction.DOWN
_NORMAL = VolatilityClass.NORMAL
_STRONG = TrendStrength.STRONG
_MODERATE = TrendStrength.MODERATE
_WEAK = TrendStrength.WEAK


class TrendDetector:
    """Trend of one symbol over short, medium and long windows: a pure, synchronous state machine.

    Ticks are folded into one-second points of event time (last price, last usable VWAP, summed volume),
    which makes the scores independent of the feed's tick rate. On the first tick of a new second the
    previous point is committed and the trend is evaluated once over the committed points plus the
    current tick as the newest point; further ticks of that second only accumulate (no evaluation).

    Each window scores 0.5 price_c + 0.3 vwap_c + 0.2 vol_c from decayed weighted means (decay 0.9,
    newest weighs most), kept incrementally so an evaluation costs O(1) amortised; the combined score is
    0.3 short + 0.4 medium + 0.3 long. Thresholds depend on the session period, the price bucket and the
    volatility class of the last 300 s of point prices (see `TrendConfig`).

    An evaluation, after warm-up (the long window holds 3 x min points, its oldest point is warm-up old):

    1. Direction is up above the direction threshold, down below its negative, else neutral.
    2. Retracement: a trend in the last emitted direction whose |score| fell to peak x (1 - retracement x
       price-tier factor) or below, the peak being the highest |score| in that direction since its last
       emission, is treated as neutral (direction None, no event).
    3. A trend is emitted when emittable (the period emits weak trends, or it is moderate or strong) and
       its direction differs from the last emitted one, or `emission_interval_ns` has passed since.

    Differences from the original (deliberate fixes):

    - Retracement only neutralises a *weakening* trend, against its peak since the last emission; the
      original compared |dscore / previous| tick to tick, so a trend strengthening by 25-40 % was
      silenced.
    - vwap_c gives the ratio series and its change series their own normalised weights; the original
      reused the first k-1 weights of the ratio series for the changes, scaling the change term by ~0.9.
    - A missing VWAP never raises (the original compared `price > vwap` before its None check).
    - Time is event time everywhere (the original's volatility window used the wall clock), and the
      original's "ticker age < interval // 3" emission gate is dropped: warm-up already covers it.
    - One evaluation per second of event time, over one-second points: the original evaluated every
      tick over raw ticks, so its thresholds (tuned on per-second aggregates) misfired on trade feeds.
    - A session change resets the counts; windows and the last emission are kept (time evicts points).
    """

    __slots__ = (
        "_base_price",
        "_bucket",
        "_config_hash",
        "_count_down",
        "_count_up",
        "_direction",
        "_direction_since_ns",
        "_emitted_direction",
        "_emitted_ns",
        "_long_score",
        "_medium_score",
        "_open_price",
        "_open_second",
        "_open_volume",
        "_open_vwap",
        "_peak",
        "_period",
        "_resolved",
        "_retrace_high",
        "_retrace_keep",
        "_retrace_low",
        "_score",
        "_session",
        "_session_key",
        "_short_score",
        "_thresholds",
        "_volatility",
        "_weights",
        "_windows",
        "config",
        "symbol",
    )

    def __init__(self, symbol: str, config: TrendConfig | None = None) -> None:
        """Create the detector of one symbol.

        Args:
            symbol: The symbol whose ticks this detector receives.
            config: Windows, weights and threshold tables; the original's defaults when omitted.
        """
        self.symbol = symbol
        self.config = config = config if config is not None else TrendConfig()
        self._config_hash = config.config_hash
        self._resolved = resolve_thresholds(config)
        self._weights = (config.short_weight, config.medium_weight, config.long_weight)
        self._windows = TrendWindows(config)
        self.reset()

    def reset(self) -> None:
        """Forget everything: points, session, counts and emissions; the next tick starts afresh."""
        self._windows.clear()
        self._session: MarketSession | None = None
        self._session_key: int | None = None
        # Replaced by the first tick's period (the session check always fails first).
        self._period: ResolvedPeriod = self._resolved[MarketPeriod.CLOSED]
        self._retrace_low = self._retrace_high = self._retrace_keep = 0.0
        self._bucket: PriceBucket | None = None
        self._volatility: VolatilityClass | None = None
        self._thresholds: ResolvedThresholds | None = None
        self._base_price = 0.0
        self._count_up = self._count_down = 0
        self._open_second = -1
        self._open_price = 0.0
        self._open_vwap: float | None = None
        self._open_volume = 0
        self._direction: Direction | None = None
        self._score = self._short_score = self._medium_score = self._long_score = 0.0
        self._emitted_direction: Direction | None = None
        self._emitted_ns = 0
        self._direction_since_ns = 0
        self._peak = 0.0

    @property
    def direction(self) -> Direction | None:
        """Trend direction as of the last evaluation; None when neutral, warming up or retraced."""
        return self._direction

    @property
    def score(self) -> float:
        """Combined score of the last evaluation, -1 to 1; 0 before any and while warming up."""
        return self._score

    @property
    def window_scores(self) -> tuple[float, float, float]:
        """Short, medium and long window scores of the last evaluation; zeros before any."""
        return (self._short_score, self._medium_score, self._long_score)

    @property
    def retained_items(self) -> int:
        """One-second points held (windows are suffixes of one sequence, plus the open point)."""
        return self._windows.held_points + (1 if self._open_second >= 0 else 0)

    def update(self, tick: Tick, session: MarketSession) -> Event | None:
        """Feed one valid tick of this symbol; return the trend event it produces, if any.

        Args:
            tick: A validated tick (price > 0 and finite, volume >= 0) of `self.symbol`, in event-time order.
            session: The market session of `tick.ts_ns`.
        """
        if session is not self._session:
            # The clock hands out one session object per minute: compare keys only when it changes.
            self._session = session
            self._period = self._resolved[session.period]
            self._thresholds = None
            self._retrace_high = 0.0
            if session.key != self._session_key:
                self._start_session(tick, session)
        second = tick.ts_ns // NS_PER_S
        vwap = usable_price(tick.vwap)
        open_second = self._open_second
        if second == open_second:
            self._open_price = tick.price
            if vwap is not None:
                self._open_vwap = vwap
            self._open_volume += tick.volume
            return None

        # The first tick of a new second: commit the finished point and evaluate once.
        price = tick.price
        volume = tick.volume
        finished = None
        if open_second >= 0:
            finished = (open_second, self._open_price, self._open_volume, self._open_vwap)
        self._open_second = second
        self._open_price = price
        self._open_vwap = vwap
        self._open_volume = volume
        period = self._period
        evaluation = self._windows.advance(
            finished,
            second,
            price,
            volume,
            None if vwap is None else (price - vwap) / vwap,
            period.min_points,
            period.min_age_s,
        )
        if evaluation is None:  # warming up
            self._direction = None
            self._score = self._short_score = self._medium_score = self._long_score = 0.0
            return None
        short, medium, long, coefficient = evaluation
        self._short_score = short
        self._medium_score = medium
        self._long_score = long
        short_weight, medium_weight, long_weight = self._weights
        score = self._score = short_weight * short + medium_weight * medium + long_weight * long

        volatility = _NORMAL if coefficient is None else volatility_class(coefficient)
        bucket = price_bucket(price)
        thresholds = self._thresholds
        if thresholds is None or bucket is not self._bucket or volatility is not self._volatility:
            thresholds = self._thresholds = period.by_bucket[bucket][volatility]
            self._bucket = bucket
            self._volatility = volatility

        direction_threshold = thresholds.direction_threshold
        if score > direction_threshold:
            direction = _UP
            magnitude = score
        elif score < -direction_threshold:
            direction = _DOWN
            magnitude = -score
        else:
            self._direction = None
            return None
        emitted = self._emitted_direction
        if direction is emitted:
            if not self._retrace_low <= price < self._retrace_high:
                self._set_retracement(price, period.row)
            if magnitude <= self._peak * self._retrace_keep:
                self._direction = None  # weakened too far from its peak: retraced
                return None
            if magnitude > self._peak:
                self._peak = magnitude
        self._direction = direction

        if magnitude > thresholds.strength_threshold:
            strength = _STRONG
        elif magnitude > thresholds.moderate_threshold:
            strength = _MODERATE
        elif thresholds.emit_weak:
            strength = _WEAK
        else:
            return None
        if direction is emitted and tick.ts_ns - self._emitted_ns < thresholds.emission_interval_ns:
            return None
        return self._emit(tick, session, direction, strength, thresholds, vwap)

    def _start_session(self, tick: Tick, session: MarketSession) -> None:
        self._session_key = session.key
        self._count_up = self._count_down = 0
        self._base_price = tick.price

    def _set_retracement(self, price: float, row: TrendPeriodConfig) -> None:
        """Cache the retracement tier of `price`: its price range and the share of the peak to keep."""
        low = 0.0
        for below_price, factor in self.config.retracement_tiers:
            if price < below_price:
                self._retrace_low = low
                self._retrace_high = below_price
                self._retrace_keep = 1.0 - row.retracement_threshold * factor
                return
            low = below_price

    def _emit(
        self,
        tick: Tick,
        session: MarketSession,
        direction: Direction,
        strength: TrendStrength,
        thresholds: ResolvedThresholds,
        vwap: float | None,
    ) -> Event:
        ts_ns = tick.ts_ns
        price = tick.price
        reversal = self._emitted_direction is not None and direction is not self._emitted_direction
        if direction is not self._emitted_direction:
            self._direction_since_ns = ts_ns
        self._emitted_direction = direction
        self._emitted_ns = ts_ns
        self._peak = abs(self._score)
        if direction is _UP:
            self._count_up += 1
            arrow = "↑"
        else:
            self._count_down += 1
            arrow = "↓"
        count = self._count_up + self._count_down

        percent_change = session_percent_change(tick, session, self._base_price)
        volume = tick.volume
        mean_volume = self._windows.long_mean_volume(volume)
        relative_volume = volume / mean_volume if mean_volume > 0 else 0.0
        vwap_position = None
        if vwap is not None:
            vwap_position = VwapPosition.ABOVE if price >= vwap else VwapPosition.BELOW

        details = TrendDetails(
            strength=strength,
            score=self._score,
            short_score=self._short_score,
            medium_score=self._medium_score,
            long_score=self._long_score,
            vwap_position=vwap_position,
            age_ns=ts_ns - self._direction_since_ns,
            thresholds=thresholds.thresholds,
        )
        return Event(
            event_id=f"{self.symbol}:trend:{ts_ns}:{count}",
            symbol=self.symbol,
            type=EventType.TREND,
            direction=direction,
            price=price,
            ts_ns=ts_ns,
            market_status=session.status,
            market_period=session.period,
            detector_version=DETECTOR_VERSION,
            config_hash=self._config_hash,
            details=details,
            reversal=reversal,
            count=count,
            count_up=self._count_up,
            count_down=self._count_down,
            percent_change=percent_change,
            vwap=vwap,
            vwap_divergence=vwap_divergence(price, vwap),
            volume=volume,
            relative_volume=relative_volume,
            label=f"TREND {arrow} {strength.value}",
        )
