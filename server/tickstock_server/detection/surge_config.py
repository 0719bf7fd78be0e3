"""Configuration of the surge detector: period and price-band tables, quality gates, and their resolution."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass

from tickstock_server.detection.config_hash import config_hash
from tickstock_server.detection.price_bucket import PriceBucket, VolatilityClass
from tickstock_server.domain.events import MarketPeriod, SurgeMode, SurgeThresholds
from tickstock_server.support.time_units import NS_PER_S

__all__ = [
    "DEFAULT_BANDS",
    "DEFAULT_PERIODS",
    "DEFAULT_VOLATILITY_MULTIPLIERS",
    "ResolvedBand",
    "ResolvedPeriod",
    "ResolvedThresholds",
    "SurgeBandConfig",
    "SurgeConfig",
    "SurgePeriodConfig",
    "resolve_thresholds",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class SurgePeriodConfig:
    """One row of the period table: the surge thresholds and quality gates of one market period."""

    threshold_multiplier: float
    """Factor on the percent and dollar thresholds (the original `SURGE_THRESHOLD_MULTIPLIER_<PERIOD>`)."""
    volume_threshold: float
    """Current-second volume over the buffer's mean point volume needed for a volume surge (x)."""
    sensitivity: float
    """The original `SURGE_GLOBAL_SENSITIVITY_<PERIOD>`. Carried for provenance (it is part of the
    config hash) but, as in the original's adaptive evaluation, used by no condition."""
    min_points: int
    """Committed one-second points the buffer needs before a tick is evaluated (warm-up)."""
    interval_s: int
    """Age of the baseline point, whole seconds: the move is measured against the newest point at least
    this old."""
    period_percent: float | None
    """Period percent threshold, capped by the price band's; None means the band's percent alone."""
    mode: SurgeMode
    """How the price and volume conditions combine."""
    min_score: float
    """Quality gate: minimum score (0-100)."""
    quality_cooldown_ns: int
    """Quality gate: minimum event time since the symbol's last surge in the session; the base
    cooldown `interval_s x SurgeConfig.cooldown_multiplier` applies when it is longer."""
    max_surges_per_window: int
    """Quality gate: surges allowed in any `SurgeConfig.surge_window_ns` of event time."""
    min_move_factor: float = 1.0
    """Quality gate: factor on the price band's minimum dollar move (0.7 in OPENING)."""
    require_combined_trigger: bool = False
    """Quality gate: only PRICE_AND_VOLUME, PRICE_DRIVEN and VOLUME_DRIVEN triggers pass (MIDDAY)."""
    low_volatility_min_percent: float | None = None
    """Quality gate: minimum |move| in percent when the symbol's volatility is LOW (3.5 in MIDDAY)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SurgeBandConfig:
    """Thresholds of one price band (the trend/surge price buckets of `price_bucket`)."""

    percent: float
    """Percent threshold of the band; the lower of this and the period percent applies."""
    dollar: float
    """Dollar threshold of the band, currency units, before the period's threshold multiplier."""
    min_move: float
    """Quality gate: minimum absolute move against the baseline, currency units."""


def _period(
    threshold_multiplier: float,
    volume_threshold: float,
    sensitivity: float,
    min_points: int,
    interval_s: int,
    period_percent: float | None,
    mode: SurgeMode,
    *,
    min_score: float,
    quality_cooldown_s: int,
    max_surges: int,
    min_move_factor: float = 1.0,
    require_combined_trigger: bool = False,
    low_volatility_min_percent: float | None = None,
) -> SurgePeriodConfig:
    return SurgePeriodConfig(
        threshold_multiplier=threshold_multiplier,
        volume_threshold=volume_threshold,
        sensitivity=sensitivity,
        min_points=min_points,
        interval_s=interval_s,
        period_percent=period_percent,
        mode=mode,
        min_score=min_score,
        quality_cooldown_ns=quality_cooldown_s * NS_PER_S,
        max_surges_per_window=max_surges,
        min_move_factor=min_move_factor,
        require_combined_trigger=require_combined_trigger,
        low_volatility_min_percent=low_volatility_min_percent,
    )


_STRICT, _OR, _ADAPTIVE = SurgeMode.STRICT, SurgeMode.OR, SurgeMode.ADAPTIVE

DEFAULT_PERIODS: tuple[tuple[MarketPeriod, SurgePeriodConfig], ...] = (
    (
        MarketPeriod.OPENING,
        _period(0.7, 3.0, 0.5, 4, 5, 4.5, _STRICT, min_score=50, quality_cooldown_s=45, max_surges=5,
                min_move_factor=0.7),
    ),
    (
        MarketPeriod.MIDDAY,
        _period(0.4, 3.0, 0.4, 8, 20, 4.0, _STRICT, min_score=75, quality_cooldown_s=180, max_surges=3,
                require_combined_trigger=True, low_volatility_min_percent=3.5),
    ),
    (
        MarketPeriod.CLOSING,
        _period(0.9, 2.5, 0.8, 3, 2, 3.5, _STRICT, min_score=60, quality_cooldown_s=60, max_surges=4),
    ),
    (
        MarketPeriod.AFTERHOURS,
        _period(1.5, 1.0, 2.0, 5, 15, 1.0, _ADAPTIVE, min_score=45, quality_cooldown_s=120, max_surges=3),
    ),
    (
        MarketPeriod.PREMARKET,
        _period(1.3, 1.2, 1.5, 4, 12, 1.25, _ADAPTIVE, min_score=45, quality_cooldown_s=120, max_surges=3),
    ),
    # The original has no CLOSED row: its code fallbacks apply (including min_score 60, the default of
    # its `min_scores.get(period, 60)`, the 90 s cooldown and the cap of 3).
    (
        MarketPeriod.CLOSED,
        _period(1.0, 1.3, 1.0, 3, 5, None, _OR, min_score=60, quality_cooldown_s=90, max_surges=3),
    ),
)  # fmt: skip
"""The original's per-period defaults (`config_manager` DEFAULTS and `_validate_surge_quality`)."""

DEFAULT_BANDS: tuple[tuple[PriceBucket, SurgeBandConfig], ...] = (
    (PriceBucket.PENNY, SurgeBandConfig(percent=8.0, dollar=0.15, min_move=0.10)),
    (PriceBucket.LOW, SurgeBandConfig(percent=5.0, dollar=0.75, min_move=0.50)),
    (PriceBucket.MID, SurgeBandConfig(percent=4.0, dollar=1.50, min_move=1.50)),
    (PriceBucket.HIGH, SurgeBandConfig(percent=3.0, dollar=3.00, min_move=3.00)),
    (PriceBucket.ULTRA, SurgeBandConfig(percent=2.0, dollar=5.00, min_move=5.00)),
)
"""The original's price bands (`get_surge_price_band` config) and quality-gate dollar minimums."""

DEFAULT_VOLATILITY_MULTIPLIERS: tuple[tuple[VolatilityClass, float], ...] = (
    (VolatilityClass.HIGH, 0.8),
    (VolatilityClass.NORMAL, 1.0),
    (VolatilityClass.LOW, 1.2),
)
"""Percent-threshold factors per volatility class: a volatile symbol needs a smaller move to surge."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SurgeConfig:
    """Everything tunable in the surge detector, with the original application's defaults."""

    periods: tuple[tuple[MarketPeriod, SurgePeriodConfig], ...] = DEFAULT_PERIODS
    """One row per market period."""
    bands: tuple[tuple[PriceBucket, SurgeBandConfig], ...] = DEFAULT_BANDS
    """One row per price bucket."""
    volatility_multipliers: tuple[tuple[VolatilityClass, float], ...] = DEFAULT_VOLATILITY_MULTIPLIERS
    """Percent-threshold factor per volatility class."""
    up_multiplier: float = 1.0
    """Factor on the percent threshold of upward moves."""
    down_multiplier: float = 1.0
    """Factor on the percent threshold of downward moves."""
    history_s: int = 120
    """Seconds of committed one-second points kept for the baseline and the mean volume (so at most
    this many points)."""
    volatility_window_s: int = 30
    """Points at most this many seconds old (and the current one) give the volatility class."""
    cooldown_multiplier: float = 2.0
    """Base cooldown between two surges, in multiples of the period's `interval_s`."""
    surge_window_ns: int = 1800 * NS_PER_S
    """Rolling window of event time of the per-period surge cap."""
    expiration_ns: int = 30 * NS_PER_S
    """Event time a surge stays current (`SurgeDetails.expire_ns`, `active_direction`)."""
    price_compensation: float = 1.5
    """ADAPTIVE price-driven case: the price must reach this multiple of both price thresholds..."""
    volume_floor: float = 0.7
    """...while the volume multiplier reaches this fraction of the volume threshold."""
    volume_compensation: float = 2.0
    """ADAPTIVE volume-driven case: the volume multiplier must reach this multiple of its threshold..."""
    price_floor: float = 0.5
    """...while the price reaches this fraction of both price thresholds."""
    price_score_weight: float = 50.0
    """Score points of a move at (or beyond) the percent threshold."""
    volume_score_weight: float = 50.0
    """Score points of a volume surge at (or beyond) the volume threshold."""
    strong_score: float = 80.0
    """Score from which a surge is STRONG."""
    moderate_score: float = 60.0
    """Score from which a surge is MODERATE (below: WEAK)."""

    def __post_init__(self) -> None:
        _require_keys("periods", self.periods, tuple(MarketPeriod))
        _require_keys("bands", self.bands, tuple(PriceBucket))
        _require_keys("volatility_multipliers", self.volatility_multipliers, tuple(VolatilityClass))
        for period, row in self.periods:
            _check_period(period, row, self.history_s)
        if any(b.percent <= 0 or b.dollar <= 0 or b.min_move < 0 for _, b in self.bands):
            raise ValueError("band percent and dollar thresholds must be positive, min_move not negative")
        if any(multiplier <= 0 for _, multiplier in self.volatility_multipliers):
            raise ValueError("volatility multipliers must be positive")
        if self.up_multiplier <= 0 or self.down_multiplier <= 0:
            raise ValueError("direction multipliers must be positive")
        if self.history_s < 1 or self.volatility_window_s < 1:
            raise ValueError("history_s and volatility_window_s must be at least 1")
        if self.cooldown_multiplier < 0 or self.surge_window_ns < 0 or self.expiration_ns < 0:
            raise ValueError("cooldown_multiplier, surge_window_ns and expiration_ns must not be negative")
        # The compensation cases only make sense as "one condition beyond, the other short of it";
        # these bounds also make every VOLUME_DRIVEN surge a volume surge for the score.
        if self.price_compensation < 1.0 or self.volume_compensation < 1.0:
            raise ValueError("price_compensation and volume_compensation must be at least 1")
        if not (0.0 < self.volume_floor <= 1.0 and 0.0 < self.price_floor <= 1.0):
            raise ValueError("volume_floor and price_floor must lie in (0, 1]")
        if self.price_score_weight < 0 or self.volume_score_weight < 0:
            raise ValueError("score weights must not be negative")
        if not 0 <= self.moderate_score <= self.strong_score:
            raise ValueError("need 0 <= moderate_score <= strong_score")

    @property
    def config_hash(self) -> str:
        """Stable short hex SHA-256 of every field; equal configurations give equal hashes."""
        return config_hash(self)

    @property
    def max_retained_items(self) -> int:
        """Upper bound of `SurgeDetector.retained_items` under this configuration."""
        max_cap = max(row.max_surges_per_window for _, row in self.periods)
        return self.history_s + self.volatility_window_s + max_cap

    def period(self, period: MarketPeriod) -> SurgePeriodConfig:
        """Return the row of a market period."""
        return dict(self.periods)[period]

    def with_period(self, period: MarketPeriod, row: SurgePeriodConfig) -> SurgeConfig:
        """Return a copy of this configuration with one period's row replaced."""
        periods = tuple((key, row if key is period else old) for key, old in self.periods)
        return dataclasses.replace(self, periods=periods)


def _require_keys(name: str, pairs: tuple[tuple[object, object], ...], keys: tuple[object, ...]) -> None:
    present = [key for key, _ in pairs]
    if len(present) != len(keys) or set(present) != set(keys):
        raise ValueError(f"{name} needs exactly one row per {type(keys[0]).__name__} member")


def _check_period(period: MarketPeriod, row: SurgePeriodConfig, history_s: int) -> None:
    if row.threshold_multiplier <= 0 or row.volume_threshold <= 0 or row.sensitivity <= 0:
        raise ValueError(f"{period.name}: threshold_multiplier, volume_threshold and sensitivity must be > 0")
    if row.period_percent is not None and row.period_percent <= 0:
        raise ValueError(f"{period.name}: period_percent must be positive")
    # The buffer holds at most history_s points, the oldest history_s seconds old.
    if not 1 <= row.min_points <= history_s:
        raise ValueError(f"{period.name}: need 1 <= min_points <= history_s")
    if not 1 <= row.interval_s <= history_s:
        raise ValueError(f"{period.name}: need 1 <= interval_s <= history_s")
    if row.quality_cooldown_ns < 0 or row.max_surges_per_window < 1:
        raise ValueError(f"{period.name}: need quality_cooldown_ns >= 0 and max_surges_per_window >= 1")
    if row.min_move_factor < 0 or (row.low_volatility_min_percent or 0.0) < 0:
        raise ValueError(f"{period.name}: min_move_factor and low_volatility_min_percent must be >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedThresholds:
    """The thresholds of one (period, price band, volatility class), precomputed for the hot path."""

    volatility: VolatilityClass
    percent_up: float
    """min(period, band) percent x volatility multiplier x threshold multiplier x up multiplier."""
    percent_down: float
    """The same with the down multiplier."""
    dollar: float
    """Band dollar threshold x threshold multiplier, currency units."""
    thresholds_up: SurgeThresholds
    """The values reported on upward surges."""
    thresholds_down: SurgeThresholds
    """The values reported on downward surges."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedBand:
    """One period's values for one price band."""

    min_move: float
    """Quality gate: minimum absolute move, band minimum x the period's min_move_factor."""
    high: ResolvedThresholds
    normal: ResolvedThresholds
    low: ResolvedThresholds


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedPeriod:
    """One period's row, its effective cooldown, and its thresholds per price band."""

    row: SurgePeriodConfig
    cooldown_ns: int
    """max(quality cooldown, interval_s x cooldown_multiplier), nanoseconds of event time."""
    bands: Mapping[PriceBucket, ResolvedBand]


@functools.lru_cache(maxsize=64)
def resolve_thresholds(config: SurgeConfig) -> Mapping[MarketPeriod, ResolvedPeriod]:
    """Precompute every period x band x volatility combination of a configuration (cached, shared).

    Values are rounded to 12 decimals so that the reported thresholds read as written
    (1.50 x 0.4 is 0.6, not 0.6000000000000001).
    """
    multipliers = dict(config.volatility_multipliers)
    resolved: dict[MarketPeriod, ResolvedPeriod] = {}
    for period, row in config.periods:
        interval_ns = row.interval_s * NS_PER_S
        bands: dict[PriceBucket, ResolvedBand] = {}
        for bucket, band in config.bands:
            period_percent = band.percent if row.period_percent is None else row.period_percent
            dollar = round(band.dollar * row.threshold_multiplier, 12)
            by_class: dict[VolatilityClass, ResolvedThresholds] = {}
            for volatility, multiplier in multipliers.items():
                percent = min(period_percent, band.percent) * multiplier * row.threshold_multiplier
                up = round(percent * config.up_multiplier, 12)
                down = round(percent * config.down_multiplier, 12)
                by_class[volatility] = ResolvedThresholds(
                    volatility=volatility,
                    percent_up=up,
                    percent_down=down,
                    dollar=dollar,
                    thresholds_up=SurgeThresholds(
                        min_percent_change=up,
                        min_price_change=dollar,
                        min_volume_multiplier=row.volume_threshold,
                        mode=row.mode,
                        baseline_interval_ns=interval_ns,
                    ),
                    thresholds_down=SurgeThresholds(
                        min_percent_change=down,
                        min_price_change=dollar,
                        min_volume_multiplier=row.volume_threshold,
                        mode=row.mode,
                        baseline_interval_ns=interval_ns,
                    ),
                )
            bands[bucket] = ResolvedBand(
                min_move=round(band.min_move * row.min_move_factor, 12),
                high=by_class[VolatilityClass.HIGH],
                normal=by_class[VolatilityClass.NORMAL],
                low=by_class[VolatilityClass.LOW],
            )
        cooldown_ns = max(row.quality_cooldown_ns, round(interval_ns * config.cooldown_multiplier))
        resolved[period] = ResolvedPeriod(row=row, cooldown_ns=cooldown_ns, bands=bands)
    return resolved
