"""Surge detector: sudden price and/or volume moves of a symbol against a baseline a few seconds old."""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping

from tickstock_server.detection.event_fields import session_percent_change, usable_price, vwap_divergence
from tickstock_server.detection.price_bucket import PriceBucket, VolatilityClass, price_bucket
from tickstock_server.detection.surge_conditions import (
    EPSILON,
    passes_quality_rules,
    surge_score,
    surge_strength,
    surge_texts,
    surge_trigger,
)
from tickstock_server.detection.surge_config import (
    ResolvedBand,
    ResolvedPeriod,
    SurgeBandConfig,
    SurgeConfig,
    SurgePeriodConfig,
    resolve_thresholds,
)
from tickstock_server.detection.surge_points import SurgePoints
from tickstock_server.domain.events import (
    Direction,
    Event,
    EventType,
    MarketPeriod,
    SurgeDetails,
    SurgeMode,
)
from tickstock_server.domain.market_session import MarketSession
from tickstock_server.domain.tick import Tick
from tickstock_server.support.time_units import NS_PER_S

__all__ = ["DETECTOR_VERSION", "SurgeBandConfig", "SurgeConfig", "SurgeDetector", "SurgePeriodConfig"]

DETECTOR_VERSION = "surge/1"
"""Version tag carried by every event of this detector; bump it when its behaviour changes."""


class SurgeDetector:
    """Price and volume surges of one symbol: a pure, synchronous state machine.

    Ticks are folded into one-second points (last price, summed volume) of event time (`SurgePoints`).
    The current second's point is open and accumulates; a tick of a later second commits it to the
    buffer, which keeps the committed points of the last `history_s` seconds. Every tick is then
    evaluated (original: one sample per 2-20 s interval, the ticks between ignored):

    1. Warm-up: the buffer needs the period's `min_points` committed points.
    2. The baseline is the newest committed point at least `interval_s` old (else the oldest one); the
       move is the tick's price against the baseline's, in percent and currency units. No move, no surge.
    3. Thresholds come from the period, the price band and the volatility class (sample coefficient
       of variation of the point prices of the last `volatility_window_s`, current one included).
    4. The volume multiplier is the current second's volume over the buffer's mean point volume.
    5. The period's mode combines the price and volume conditions into a trigger; the score is up to
       50 for the move against the percent threshold plus up to 50 for the volume multiplier against
       its threshold, the latter only when the volume condition (multiplier and volume > 0) holds.
    6. Quality gates: minimum dollar move, minimum score, MIDDAY trigger and low-volatility rules,
       cooldown since the last surge, and a cap per rolling 30 minutes. All are plain rejections.

    A new session (status or ET date, `MarketSession.key`) resets the counts, cooldowns and cap; the
    buffer and the active surge are kept (time evicts them). Differences from the original (bugs
    fixed): time comes from `tick.ts_ns` only; every tick is evaluated; the baseline is a point at
    least `interval_s` old rather than the previous sample; the cap counts surges in a rolling window;
    event ids are deterministic.
    """

    __slots__ = (
        "_active_direction",
        "_active_expire_ns",
        "_band",
        "_bucket",
        "_bucket_high",
        "_bucket_low",
        "_config_hash",
        "_count_down",
        "_count_up",
        "_last_surge_ns",
        "_periods",
        "_points",
        "_rules",
        "_session",
        "_session_key",
        "_session_price",
        "_surge_times",
        "config",
        "symbol",
    )

    def __init__(self, symbol: str, config: SurgeConfig | None = None) -> None:
        """Create the detector of one symbol.

        Args:
            symbol: The symbol whose ticks this detector receives.
            config: Thresholds, windows and gates; the original's defaults when omitted.
        """
        self.symbol = symbol
        self.config = config = config if config is not None else SurgeConfig()
        self._config_hash = config.config_hash
        self._periods: Mapping[MarketPeriod, ResolvedPeriod] = resolve_thresholds(config)
        self._points = SurgePoints(config.history_s, config.volatility_window_s)
        # Event times of the surges in the last surge window, oldest first: at most the period's
        # max_surges_per_window, as a surge is only added below that. An array, not a deque: a deque
        # takes a 64-slot block (about 750 bytes) in each of thousands of symbols.
        self._surge_times: array[int] = array("q")
        self._clear_session()
        self._clear_band()
        self._active_direction: Direction | None = None
        self._active_expire_ns = 0

    def _clear_band(self) -> None:
        # An empty range (low > high): the first evaluated price looks its bucket up.
        self._bucket = PriceBucket.MID
        self._bucket_low = math.inf
        self._bucket_high = -math.inf
        self._band = self._rules.bands[self._bucket]

    def _clear_session(self) -> None:
        self._session: MarketSession | None = None
        self._rules = self._periods[MarketPeriod.CLOSED]  # replaced by the first tick's period
        self._session_key: int | None = None
        self._session_price = 0.0
        self._count_up = self._count_down = 0
        self._last_surge_ns: int | None = None
        del self._surge_times[:]

    def reset(self) -> None:
        """Forget everything: points, session, counts and the active surge."""
        self._points.clear()
        self._clear_session()
        self._clear_band()
        self._active_direction = None
        self._active_expire_ns = 0

    @property
    def retained_items(self) -> int:
        """History entries held: buffer and volatility points, and recent surge times.

        At most `history_s + volatility_window_s + max(max_surges_per_window)`, whatever the tick rate.
        """
        return len(self._points) + len(self._surge_times)

    @property
    def daily_count(self) -> int:
        """Surges of this symbol in the current session."""
        return self._count_up + self._count_down

    def active_direction(self, ts_ns: int) -> Direction | None:
        """Direction of the latest surge while `ts_ns` is before its expiry, else None.

        Args:
            ts_ns: Event time, UTC epoch nanoseconds.
        """
        return self._active_direction if ts_ns < self._active_expire_ns else None

    def update(self, tick: Tick, session: MarketSession) -> Event | None:
        """Feed one valid tick of this symbol; return the surge it produces, if any.

        Args:
            tick: A validated tick (price > 0 and finite, volume >= 0) of `self.symbol`, in event-time order.
            session: The market session of `tick.ts_ns`.
        """
        price = tick.price
        if session is not self._session:  # a MarketClock hands out one session object per minute
            self._enter(session, price)
        rules = self._rules
        row = rules.row
        points = self._points
        points.add(tick.ts_ns // NS_PER_S, price, tick.volume, row.interval_s)
        count = points.count()
        if count < row.min_points:
            return None
        base = points.baseline_price()
        move = price - base
        if move == 0.0:
            return None
        if not self._bucket_low <= price <= self._bucket_high:
            self._find_band(price)
        band = self._band
        # The dollar quality gate rejects whatever the other conditions say, and rejections have no
        # side effects, so checking it first is exact and spares most ticks the full evaluation.
        if abs(move) < band.min_move - EPSILON:
            return None
        return self._evaluate(tick, session, rules, band, base, move, count)

    def _enter(self, session: MarketSession, price: float) -> None:
        self._session = session
        rules = self._rules = self._periods[session.period]
        self._band = rules.bands[self._bucket]
        if session.key != self._session_key:
            self._session_key = session.key
            self._session_price = price
            self._count_up = self._count_down = 0
            self._last_surge_ns = None
            del self._surge_times[:]

    def _find_band(self, price: float) -> None:
        # Buckets are contiguous price ranges, so every price between two prices of one bucket is in
        # that bucket too: the range of prices seen in the current bucket answers most ticks exactly,
        # without the function call and the enum hash of a lookup.
        bucket = price_bucket(price)
        if bucket is self._bucket:
            self._bucket_low = min(self._bucket_low, price)
            self._bucket_high = max(self._bucket_high, price)
        else:
            self._bucket = bucket
            self._bucket_low = self._bucket_high = price
            self._band = self._rules.bands[bucket]

    def _evaluate(
        self,
        tick: Tick,
        session: MarketSession,
        rules: ResolvedPeriod,
        band: ResolvedBand,
        base: float,
        move: float,
        count: int,
    ) -> Event | None:
        config = self.config
        row = rules.row
        mode = row.mode
        volume_threshold = row.volume_threshold
        points = self._points
        volume = points.open_volume
        mean_volume = points.volume_sum / count
        volume_multiplier = volume / mean_volume if mean_volume > 0 else 0.0
        meets_volume = volume > 0 and volume_multiplier >= volume_threshold - EPSILON
        abs_move = abs(move)
        # Necessary conditions of each mode that do not depend on the volatility class (the dollar
        # threshold does not either): most ticks stop here, before the volatility is computed.
        if mode is SurgeMode.STRICT:
            if not meets_volume:
                return None
        elif mode is SurgeMode.ADAPTIVE:
            # Every ADAPTIVE case needs at least volume_floor (<= 1 <= volume_compensation) x threshold.
            if volume == 0 or volume_multiplier < volume_threshold * config.volume_floor - EPSILON:
                return None
        elif not meets_volume and abs_move < band.normal.dollar - EPSILON:
            return None

        price = tick.price
        volatility = points.volatility(price)
        if volatility is VolatilityClass.NORMAL:
            resolved = band.normal
        else:
            resolved = band.high if volatility is VolatilityClass.HIGH else band.low
        up = move > 0.0
        percent_threshold = resolved.percent_up if up else resolved.percent_down
        dollar_threshold = resolved.dollar
        percent = move / base * 100.0
        abs_percent = abs(percent)
        meets_price = abs_percent >= percent_threshold - EPSILON and abs_move >= dollar_threshold - EPSILON

        trigger = surge_trigger(
            config,
            mode,
            abs_percent=abs_percent,
            abs_move=abs_move,
            volume_multiplier=volume_multiplier,
            percent_threshold=percent_threshold,
            dollar_threshold=dollar_threshold,
            volume_threshold=volume_threshold,
            meets_price=meets_price,
            meets_volume=meets_volume,
        )
        if trigger is None:
            return None
        score = surge_score(
            config,
            abs_percent=abs_percent,
            percent_threshold=percent_threshold,
            volume_multiplier=volume_multiplier,
            volume_threshold=volume_threshold,
            meets_volume=meets_volume,
        )
        if not passes_quality_rules(row, trigger, score, volatility, abs_percent):
            return None
        ts_ns = tick.ts_ns
        last_surge_ns = self._last_surge_ns
        if last_surge_ns is not None and ts_ns - last_surge_ns < rules.cooldown_ns:
            return None
        surge_times = self._surge_times
        window_start_ns = ts_ns - config.surge_window_ns
        expired = 0
        while expired < len(surge_times) and surge_times[expired] <= window_start_ns:
            expired += 1
        del surge_times[:expired]
        if len(surge_times) >= row.max_surges_per_window:
            return None

        direction = Direction.UP if up else Direction.DOWN
        if up:
            self._count_up += 1
        else:
            self._count_down += 1
        daily_count = self._count_up + self._count_down
        self._last_surge_ns = ts_ns
        surge_times.append(ts_ns)
        expire_ns = ts_ns + config.expiration_ns
        self._active_direction = direction
        self._active_expire_ns = expire_ns

        vwap = usable_price(tick.vwap)
        label, description = surge_texts(direction, trigger)

        details = SurgeDetails(
            magnitude=percent,
            score=score,
            strength=surge_strength(config, score),
            trigger=trigger,
            volume_multiplier=volume_multiplier,
            baseline_price=base,
            expire_ns=expire_ns,
            daily_count=daily_count,
            description=description,
            thresholds=resolved.thresholds_up if up else resolved.thresholds_down,
        )
        return Event(
            event_id=f"{self.symbol}:surge:{ts_ns}:{daily_count}",
            symbol=self.symbol,
            type=EventType.SURGE,
            direction=direction,
            price=price,
            ts_ns=ts_ns,
            market_status=session.status,
            market_period=session.period,
            detector_version=DETECTOR_VERSION,
            config_hash=self._config_hash,
            details=details,
            count=daily_count,
            count_up=self._count_up,
            count_down=self._count_down,
            percent_change=session_percent_change(tick, session, self._session_price),
            vwap=vwap,
            vwap_divergence=vwap_divergence(price, vwap),
            volume=volume,
            relative_volume=volume_multiplier,
            label=label,
        )
