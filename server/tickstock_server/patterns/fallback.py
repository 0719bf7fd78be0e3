"""Fallback pattern detector: candlestick, volume and gap patterns from completed one-minute bars."""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.patterns import Pattern, PatternIndicators, PatternSource, PatternTimeframe
from tickstock_server.support.time_units import NS_PER_S

__all__ = [
    "BAR_LENGTH_NS",
    "DOJI",
    "DOJI_CONFIDENCE",
    "DOJI_MAX_BODY_RATIO",
    "ENGULFING_BEAR",
    "ENGULFING_BULL",
    "ENGULFING_CONFIDENCE",
    "FALLBACK_PATTERN_TYPES",
    "HAMMER",
    "HAMMER_CONFIDENCE",
    "HIGH_VOLUME_SURGE",
    "PRICE_GAP",
    "PRICE_GAP_CONFIDENCE",
    "PRICE_GAP_MIN_PCT",
    "SHADOW_BODY_MULTIPLE",
    "SHADOW_MAX_OPPOSITE_RATIO",
    "SHOOTING_STAR",
    "SHOOTING_STAR_CONFIDENCE",
    "SURGE_CONFIDENCE",
    "SURGE_MIN_AVERAGE_VOLUME",
    "SURGE_VOLUME_MULTIPLE",
    "FallbackPatternDetector",
]


BAR_LENGTH_NS = 60 * NS_PER_S
"""Length of the bars the detector is fed; a pattern is detected when its bar ends."""

# Pattern names exactly as the original's fallback detector spells them.
DOJI = "Doji"
HAMMER = "Hammer"
SHOOTING_STAR = "Shooting_Star"
ENGULFING_BULL = "Engulfing_Bull"
ENGULFING_BEAR = "Engulfing_Bear"
HIGH_VOLUME_SURGE = "High_Volume_Surge"
PRICE_GAP = "Price_Gap"

FALLBACK_PATTERN_TYPES: tuple[str, ...] = (
    DOJI,
    HAMMER,
    SHOOTING_STAR,
    ENGULFING_BULL,
    ENGULFING_BEAR,
    HIGH_VOLUME_SURGE,
    PRICE_GAP,
)
"""Every pattern the detector reports, in the order `update` returns them."""

# Candle anatomy: range = high - low; body = |close - open|; upper shadow = high - max(open, close);
# lower shadow = min(open, close) - low. Every ratio below is taken of the range, so a bar whose range
# is zero (one price all minute) is never a candlestick pattern: the ratios are not computed for it.

DOJI_MAX_BODY_RATIO = 0.1
"""Doji: the body is at most this fraction of the range (open and close nearly equal). A body above it
is a "real body", which Hammer and Shooting Star require, so a bar is never both a Doji and either."""
SHADOW_BODY_MULTIPLE = 2.0
"""Hammer (Shooting Star): the lower (upper) shadow is at least this many bodies long."""
SHADOW_MAX_OPPOSITE_RATIO = 0.1
"""Hammer (Shooting Star): the upper (lower) shadow is at most this fraction of the range."""
SURGE_VOLUME_MULTIPLE = 3.0
"""High_Volume_Surge: the bar's volume exceeds this multiple of the average volume of previous bars."""
SURGE_MIN_AVERAGE_VOLUME = 100.0
"""High_Volume_Surge: the average volume of previous bars must exceed this many shares (the original's
floor; it keeps thin symbols from "surging" on a few hundred shares)."""
PRICE_GAP_MIN_PCT = 2.0
"""Price_Gap: the bar opens more than this many percent away from the previous bar's close."""

DOJI_CONFIDENCE = 0.6
"""The original's Doji confidence."""
HAMMER_CONFIDENCE = 0.65
"""Chosen: a single-bar shape without the downtrend context the textbook asks for, a little above Doji."""
SHOOTING_STAR_CONFIDENCE = 0.65
"""Chosen: the mirror image of Hammer."""
ENGULFING_CONFIDENCE = 0.7
"""Chosen: a two-bar pattern, stronger evidence than one bar's shape."""
SURGE_CONFIDENCE = 0.75
"""The original's High_Volume_Surge confidence."""
PRICE_GAP_CONFIDENCE = 0.8
"""The original's Price_Gap confidence."""


class _SymbolHistory:
    """What the detector remembers of one symbol: its previous bar and the volumes of recent bars."""

    __slots__ = ("previous", "volume_sum", "volumes")

    def __init__(self, volume_bars: int) -> None:
        self.previous: Bar | None = None
        self.volumes: deque[int] = deque(maxlen=volume_bars)
        self.volume_sum = 0
        """Sum of `volumes`, kept in step so the average is O(1) (integers: no float drift)."""

    def remember(self, bar: Bar) -> None:
        if len(self.volumes) == self.volumes.maxlen:
            self.volume_sum -= self.volumes[0]
        self.volumes.append(bar.volume)
        self.volume_sum += bar.volume
        self.previous = bar


@dataclass(frozen=True, slots=True, kw_only=True)
class _Candle:
    body: float
    range: float
    upper_shadow: float
    lower_shadow: float


def _candle(bar: Bar) -> _Candle:
    top = max(bar.open, bar.close)
    bottom = min(bar.open, bar.close)
    return _Candle(
        body=top - bottom,
        range=bar.high - bar.low,
        upper_shadow=bar.high - top,
        lower_shadow=bottom - bar.low,
    )


def _usable(bar: Bar) -> bool:
    """A bar with finite, positive prices whose high and low bound its open and close."""
    prices = (bar.open, bar.high, bar.low, bar.close)
    return (
        all(math.isfinite(p) and p > 0 for p in prices)
        and bar.low <= min(bar.open, bar.close)
        and bar.high >= max(bar.open, bar.close)
        and bar.volume >= 0
    )


class FallbackPatternDetector:
    """Detects Doji, Hammer, Shooting_Star, Engulfing_Bull/Bear, High_Volume_Surge and Price_Gap.

    Pure, synchronous and deterministic: feed it each symbol's completed one-minute bars in time order;
    time comes from the bars. Every pattern is sourced FALLBACK on the INTRADAY timeframe, priced at the
    bar's close, detected when the bar ends (`start_ns` + 60 s) and current for `ttl_s` after that.

    Definitions (see the module constants for the numbers):

    - Doji: range > 0 and body <= 10 % of the range.
    - Hammer: range > 0, a real body (> 10 % of the range), lower shadow >= 2 bodies, upper shadow
      <= 10 % of the range. Shooting_Star is the mirror image (long upper shadow).
    - Engulfing_Bull: the previous bar fell (close < open), this one rises, and this body covers the
      previous body (open <= previous close, close >= previous open) and is strictly longer.
      Engulfing_Bear is the mirror image.
    - High_Volume_Surge: at least `min_volume_bars` previous bars are known, their average volume
      exceeds 100, and this bar's volume exceeds 3 times that average.
    - Price_Gap: |open - previous close| / previous close > 2 %.

    The "previous bar" is the symbol's last bar fed, however long ago (an overnight gap is a gap).
    Shapes need no trend context (unlike the textbook Hammer), which their confidences reflect.

    Pattern ids are ``fb:{symbol}:{pattern}:{bar start ns}``: unique, because one bar yields each
    pattern at most once and a bar that does not start after the symbol's previous one (a revision or
    a replay of an older minute) is ignored. A restarted detector fed the same bar again produces the
    same id for the same pattern, which a cache treats as one pattern.

    Memory: per symbol the previous bar and `volume_bars` volumes; at most `max_symbols` symbols,
    the least recently updated forgotten first.
    """

    def __init__(
        self,
        *,
        ttl_s: int = 3600,
        volume_bars: int = 20,
        min_volume_bars: int = 5,
        max_symbols: int = 20_000,
    ) -> None:
        """Create a detector with no history.

        Args:
            ttl_s: Seconds a pattern stays current after its bar ends (`expires_ns` - `detected_ns`).
            volume_bars: Previous bars in the rolling average volume.
            min_volume_bars: Previous bars needed before the average volume (and so High_Volume_Surge
                and `relative_volume`) is known; 1 to `volume_bars`.
            max_symbols: Symbols remembered at most; the least recently updated is forgotten beyond.
        """
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        if not 1 <= min_volume_bars <= volume_bars:
            raise ValueError("need 1 <= min_volume_bars <= volume_bars")
        if max_symbols < 1:
            raise ValueError("max_symbols must be >= 1")
        self._ttl_ns = ttl_s * NS_PER_S
        self._volume_bars = volume_bars
        self._min_volume_bars = min_volume_bars
        self._max_symbols = max_symbols
        self._history: OrderedDict[str, _SymbolHistory] = OrderedDict()
        self.bars_ignored = 0
        """Bars not analysed: unusable prices, or not starting after the symbol's previous bar."""

    @property
    def symbols_tracked(self) -> int:
        """Symbols with history."""
        return len(self._history)

    def reset(self) -> None:
        """Forget every symbol's history."""
        self._history.clear()

    def update(self, bar: Bar) -> tuple[Pattern, ...]:
        """Analyse a completed bar and remember it; return the patterns it completes (often none)."""
        history = self._history.get(bar.symbol)
        if not _usable(bar) or (
            history is not None and history.previous is not None and bar.start_ns <= history.previous.start_ns
        ):
            self.bars_ignored += 1
            return ()
        if history is None:
            history = self._history[bar.symbol] = _SymbolHistory(self._volume_bars)
            if len(self._history) > self._max_symbols:
                self._history.popitem(last=False)
        else:
            self._history.move_to_end(bar.symbol)
        previous = history.previous
        average_volume = (
            history.volume_sum / len(history.volumes)
            if len(history.volumes) >= self._min_volume_bars
            else None
        )
        found = self._detect(bar, previous, average_volume)
        history.remember(bar)
        if not found:
            return ()
        return self._patterns(bar, previous, average_volume, found)

    @staticmethod
    def _detect(bar: Bar, previous: Bar | None, average_volume: float | None) -> list[tuple[str, float]]:
        found: list[tuple[str, float]] = []
        candle = _candle(bar)
        if candle.range > 0:
            real_body = candle.body > DOJI_MAX_BODY_RATIO * candle.range
            if not real_body:
                found.append((DOJI, DOJI_CONFIDENCE))
            elif (
                candle.lower_shadow >= SHADOW_BODY_MULTIPLE * candle.body
                and candle.upper_shadow <= SHADOW_MAX_OPPOSITE_RATIO * candle.range
            ):
                found.append((HAMMER, HAMMER_CONFIDENCE))
            elif (
                candle.upper_shadow >= SHADOW_BODY_MULTIPLE * candle.body
                and candle.lower_shadow <= SHADOW_MAX_OPPOSITE_RATIO * candle.range
            ):
                found.append((SHOOTING_STAR, SHOOTING_STAR_CONFIDENCE))
        if previous is not None:
            previous_body = abs(previous.close - previous.open)
            if (
                previous.close < previous.open
                and bar.close > bar.open
                and bar.open <= previous.close
                and bar.close >= previous.open
                and candle.body > previous_body
            ):
                found.append((ENGULFING_BULL, ENGULFING_CONFIDENCE))
            elif (
                previous.close > previous.open
                and bar.close < bar.open
                and bar.open >= previous.close
                and bar.close <= previous.open
                and candle.body > previous_body
            ):
                found.append((ENGULFING_BEAR, ENGULFING_CONFIDENCE))
        if (
            average_volume is not None
            and average_volume > SURGE_MIN_AVERAGE_VOLUME
            and bar.volume > SURGE_VOLUME_MULTIPLE * average_volume
        ):
            found.append((HIGH_VOLUME_SURGE, SURGE_CONFIDENCE))
        # `_usable` guarantees a positive previous close; the check keeps the division visibly safe.
        if (
            previous is not None
            and previous.close > 0
            and abs(bar.open - previous.close) / previous.close * 100.0 > PRICE_GAP_MIN_PCT
        ):
            found.append((PRICE_GAP, PRICE_GAP_CONFIDENCE))
        return found

    def _patterns(
        self, bar: Bar, previous: Bar | None, average_volume: float | None, found: list[tuple[str, float]]
    ) -> tuple[Pattern, ...]:
        detected_ns = bar.start_ns + BAR_LENGTH_NS
        change_pct = 0.0
        if previous is not None and previous.close > 0:
            change_pct = (bar.close - previous.close) / previous.close * 100.0
        relative_volume = (
            bar.volume / average_volume if average_volume is not None and average_volume > 0 else None
        )
        indicators = PatternIndicators(relative_volume=relative_volume)
        return tuple(
            Pattern(
                pattern_id=f"fb:{bar.symbol}:{pattern_type}:{bar.start_ns}",
                symbol=bar.symbol,
                pattern_type=pattern_type,
                confidence=confidence,
                price=bar.close,
                price_change_pct=change_pct,
                detected_ns=detected_ns,
                expires_ns=detected_ns + self._ttl_ns,
                timeframe=PatternTimeframe.INTRADAY,
                source=PatternSource.FALLBACK,
                indicators=indicators,
            )
            for pattern_type, confidence in found
        )
