"""Configuration of the trend detector: period and price-bucket threshold tables, and their resolution."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

from tickstock_server.detection.config_hash import config_hash
from tickstock_server.detection.price_bucket import PriceBucket, VolatilityClass
from tickstock_server.domain.events import MarketPeriod, TrendThresholds
from tickstock_server.support.time_units import NS_PER_S

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_PERIODS",
    "DEFAULT_RETRACEMENT_TIERS",
    "DEFAULT_VOLATILITY_MULTIPLIERS",
    "ResolvedPeriod",
    "ResolvedThresholds",
    "TrendBucketConfig",
    "TrendConfig",
    "TrendPeriodConfig",
    "resolve_thresholds",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendPeriodConfig:
    """One row of the period table: the trend thresholds and gates of one market period."""

    direction_threshold: float
    """|combined score| above which a trend has a direction, before the bucket, volatility and sensitivity."""
    strength_threshold: float
    """|combined score| above which a trend is strong, before the bucket, volatility and sensitivity."""
    sensitivity: float
    """Final factor on both thresholds (the original `global_sensitivity`)."""
    emission_interval_ns: int
    """Minimum event time between two emissions in the same direction."""
    retracement_threshold: float
    """Fraction of the peak |score| a trend may lose before it counts as retraced; scaled per price tier."""
    min_points_per_window: int
    """One-second points a window needs to score; the long window needs three times as many to warm up."""
    warmup_ns: int
    """Event time the oldest point of the long window must have before the first evaluation."""
    emit_weak: bool
    """Whether weak trends are emitted (otherwise only moderate and strong ones)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendBucketConfig:
    """Thresholds of one price bucket; the lower of the bucket and the period value applies."""

    direction_threshold: float
    """Direction threshold cap for prices in this bucket."""
    strength_threshold: float
    """Strength threshold cap for prices in this bucket."""


def _period(
    direction: float,
    strength: float,
    sensitivity: float,
    emission_s: int,
    retracement: float,
    points: int,
    warmup_s: int,
    emit_weak: bool,
) -> TrendPeriodConfig:
    return TrendPeriodConfig(
        direction_threshold=direction,
        strength_threshold=strength,
        sensitivity=sensitivity,
        emission_interval_ns=emission_s * NS_PER_S,
        retracement_threshold=retracement,
        min_points_per_window=points,
        warmup_ns=warmup_s * NS_PER_S,
        emit_weak=emit_weak,
    )


DEFAULT_PERIODS: tuple[tuple[MarketPeriod, TrendPeriodConfig], ...] = (
    (MarketPeriod.OPENING, _period(0.25, 0.45, 1.0, 45, 0.5, 4, 45, False)),
    (MarketPeriod.MIDDAY, _period(0.025, 0.05, 1.5, 90, 0.25, 8, 90, True)),
    (MarketPeriod.CLOSING, _period(0.25, 0.50, 1.0, 30, 0.6, 4, 30, False)),
    (MarketPeriod.AFTERHOURS, _period(0.015, 0.04, 2.5, 150, 0.15, 12, 240, True)),
    (MarketPeriod.PREMARKET, _period(0.02, 0.05, 2.0, 120, 0.2, 10, 180, True)),
    # The original has no CLOSED override: its base values apply.
    (MarketPeriod.CLOSED, _period(0.3, 0.6, 1.0, 60, 0.4, 10, 180, False)),
)
"""The original's per-period overrides (`config_manager` DEFAULTS), and its base values for CLOSED."""

DEFAULT_BUCKETS: tuple[tuple[PriceBucket, TrendBucketConfig], ...] = (
    (PriceBucket.PENNY, TrendBucketConfig(direction_threshold=0.04, strength_threshold=0.08)),
    (PriceBucket.LOW, TrendBucketConfig(direction_threshold=0.02, strength_threshold=0.05)),
    (PriceBucket.MID, TrendBucketConfig(direction_threshold=0.015, strength_threshold=0.035)),
    (PriceBucket.HIGH, TrendBucketConfig(direction_threshold=0.01, strength_threshold=0.025)),
    (PriceBucket.ULTRA, TrendBucketConfig(direction_threshold=0.006, strength_threshold=0.02)),
)
"""The original's price-bucket overrides."""

DEFAULT_VOLATILITY_MULTIPLIERS: tuple[tuple[VolatilityClass, float], ...] = (
    (VolatilityClass.HIGH, 0.7),
    (VolatilityClass.NORMAL, 1.0),
    (VolatilityClass.LOW, 1.3),
)
"""Threshold factors per volatility class: a volatile symbol needs a smaller score to trend."""

DEFAULT_RETRACEMENT_TIERS: tuple[tuple[float, float], ...] = (
    (1.0, 1.25),
    (5.0, 1.125),
    (25.0, 1.0),
    (100.0, 0.875),
    (math.inf, 0.75),
)
"""(exclusive upper price bound, factor on the period's retracement threshold), ascending."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendConfig:
    """Everything tunable in the trend detector, with the original application's defaults."""

    short_window_s: int = 180
    """Short window, seconds of event time (so at most this many one-second points)."""
    medium_window_s: int = 360
    """Medium window, seconds of event time."""
    long_window_s: int = 600
    """Long window, seconds of event time; it also gates the warm-up and bounds the points held."""
    volatility_window_s: int = 300
    """Window of the point prices whose coefficient of variation gives the volatility class, seconds."""
    decay: float = 0.9
    """Weight ratio between consecutive values of a window's decayed weighted means, in (0, 1)."""
    short_weight: float = 0.3
    """Weight of the short window in the combined score."""
    medium_weight: float = 0.4
    """Weight of the medium window in the combined score."""
    long_weight: float = 0.3
    """Weight of the long window in the combined score."""
    price_weight: float = 0.5
    """Weight of the price component in a window's score."""
    vwap_weight: float = 0.3
    """Weight of the VWAP component in a window's score."""
    volume_weight: float = 0.2
    """Weight of the volume component in a window's score."""
    price_move_scale: float = 0.01
    """Mean per-second price move, as a fraction of the mean price, that scores a full 1 (0.01 = 1 %)."""
    vwap_position_gain: float = 5.0
    """Factor on the weighted mean of (price - vwap) / vwap in the VWAP component."""
    vwap_change_gain: float = 10.0
    """Factor on the weighted mean change of (price - vwap) / vwap in the VWAP component."""
    volume_flow_divisor: float = 3.0
    """Divisor of the weighted mean signed relative volume in the volume component."""
    min_volume_points: int = 3
    """Points with a positive volume a window needs for its volume component."""
    periods: tuple[tuple[MarketPeriod, TrendPeriodConfig], ...] = DEFAULT_PERIODS
    """One row per market period."""
    buckets: tuple[tuple[PriceBucket, TrendBucketConfig], ...] = DEFAULT_BUCKETS
    """One row per price bucket."""
    volatility_multipliers: tuple[tuple[VolatilityClass, float], ...] = DEFAULT_VOLATILITY_MULTIPLIERS
    """Threshold factor per volatility class."""
    retracement_tiers: tuple[tuple[float, float], ...] = DEFAULT_RETRACEMENT_TIERS
    """(exclusive upper price bound, retracement factor) in ascending order, ending with math.inf."""

    def __post_init__(self) -> None:
        if not 0 < self.short_window_s <= self.medium_window_s <= self.long_window_s:
            raise ValueError("need 0 < short_window_s <= medium_window_s <= long_window_s")
        if self.volatility_window_s <= 0:
            raise ValueError("volatility_window_s must be positive")
        if not 0.0 < self.decay < 1.0:
            raise ValueError("decay must lie in (0, 1)")
        if self.price_move_scale <= 0 or self.volume_flow_divisor <= 0:
            raise ValueError("price_move_scale and volume_flow_divisor must be positive")
        if self.min_volume_points < 2:
            raise ValueError("min_volume_points must be at least 2 (one price change)")
        _require_keys("periods", self.periods, tuple(MarketPeriod))
        _require_keys("buckets", self.buckets, tuple(PriceBucket))
        _require_keys("volatility_multipliers", self.volatility_multipliers, tuple(VolatilityClass))
        for period, row in self.periods:
            _check_period(period, row, self.long_window_s)
        if any(row.direction_threshold <= 0 or row.strength_threshold <= 0 for _, row in self.buckets):
            raise ValueError("bucket thresholds must be positive")
        if any(multiplier <= 0 for _, multiplier in self.volatility_multipliers):
            raise ValueError("volatility multipliers must be positive")
        bounds = [bound for bound, _ in self.retracement_tiers]
        if not bounds or bounds[-1] != math.inf or bounds != sorted(set(bounds)):
            raise ValueError("retracement_tiers must be strictly ascending and end with math.inf")

    @property
    def config_hash(self) -> str:
        """Stable short hex SHA-256 of every field; equal configurations give equal hashes."""
        return config_hash(self)


def _require_keys(name: str, pairs: tuple[tuple[object, object], ...], keys: tuple[object, ...]) -> None:
    present = [key for key, _ in pairs]
    if len(present) != len(keys) or set(present) != set(keys):
        raise ValueError(f"{name} needs exactly one row per {type(keys[0]).__name__} member")


def _check_period(period: MarketPeriod, row: TrendPeriodConfig, long_window_s: int) -> None:
    if row.direction_threshold <= 0 or row.strength_threshold <= 0 or row.sensitivity <= 0:
        raise ValueError(f"{period.name}: thresholds and sensitivity must be positive")
    if row.emission_interval_ns < 0 or not 0.0 <= row.retracement_threshold < 1.0:
        raise ValueError(f"{period.name}: need emission_interval_ns >= 0 and 0 <= retracement_threshold < 1")
    # The long window holds at most long_window_s points, the oldest at most long_window_s - 1 s old:
    # a warm-up beyond either could never complete.
    if not 1 <= 3 * row.min_points_per_window <= long_window_s:
        raise ValueError(f"{period.name}: need 1 <= 3 * min_points_per_window <= long_window_s")
    if not 0 <= row.warmup_ns <= (long_window_s - 1) * NS_PER_S:
        raise ValueError(f"{period.name}: warmup_ns must lie in [0, long window - 1 s]")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedThresholds:
    """The thresholds of one (period, price bucket, volatility class), precomputed for the hot path."""

    direction_threshold: float
    """min(period, bucket) direction threshold x volatility multiplier x sensitivity."""
    strength_threshold: float
    """min(period, bucket) strength threshold x volatility multiplier x sensitivity."""
    moderate_threshold: float
    """Twice the direction threshold: the lower bound of a moderate trend."""
    emission_interval_ns: int
    """Minimum event time between two emissions in the same direction."""
    emit_weak: bool
    """Whether weak trends are emitted."""
    thresholds: TrendThresholds
    """The same values as reported on events."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedPeriod:
    """One period's gates and its thresholds per price bucket and volatility class."""

    row: TrendPeriodConfig
    min_points: int
    """`row.min_points_per_window`."""
    min_age_s: int
    """The warm-up in whole seconds: `row.warmup_ns` rounded up."""
    by_bucket: Mapping[PriceBucket, Mapping[VolatilityClass, ResolvedThresholds]]


@functools.lru_cache(maxsize=64)
def resolve_thresholds(config: TrendConfig) -> Mapping[MarketPeriod, ResolvedPeriod]:
    """Precompute every period x bucket x volatility combination of a configuration (cached, shared).

    Values are rounded to 12 decimals so that the reported thresholds read as written
    (0.015 x 1.5 is 0.0225, not 0.022499999999999996).
    """
    buckets = dict(config.buckets)
    multipliers = dict(config.volatility_multipliers)
    resolved: dict[MarketPeriod, ResolvedPeriod] = {}
    for period, row in config.periods:
        by_bucket: dict[PriceBucket, dict[VolatilityClass, ResolvedThresholds]] = {}
        for bucket, caps in buckets.items():
            by_class = by_bucket[bucket] = {}
            for volatility, multiplier in multipliers.items():
                factor = multiplier * row.sensitivity
                direction = round(min(row.direction_threshold, caps.direction_threshold) * factor, 12)
                strength = round(min(row.strength_threshold, caps.strength_threshold) * factor, 12)
                by_class[volatility] = ResolvedThresholds(
                    direction_threshold=direction,
                    strength_threshold=strength,
                    moderate_threshold=2.0 * direction,
                    emission_interval_ns=row.emission_interval_ns,
                    emit_weak=row.emit_weak,
                    thresholds=TrendThresholds(
                        direction_threshold=direction,
                        strength_threshold=strength,
                        volatility_multiplier=multiplier,
                        emission_interval_ns=row.emission_interval_ns,
                        min_points_per_window=row.min_points_per_window,
                    ),
                )
        min_age_s = -(-row.warmup_ns // NS_PER_S)
        resolved[period] = ResolvedPeriod(
            row=row,
            min_points=row.min_points_per_window,
            min_age_s=min_age_s,
            by_bucket=by_bucket,
        )
    return resolved
