"""The surge rules of one evaluation: mode conditions to trigger, score, strength, stateless quality gates."""

from __future__ import annotations

from tickstock_server.detection.price_bucket import VolatilityClass
from tickstock_server.detection.surge_config import SurgeConfig, SurgePeriodConfig
from tickstock_server.domain.events import Direction, SurgeMode, SurgeStrength, SurgeTrigger

__all__ = ["EPSILON", "passes_quality_rules", "surge_score", "surge_strength", "surge_texts", "surge_trigger"]

EPSILON = 1e-9
"""Slack of every threshold comparison. Prices are decimal quotes, but binary floats make an
exact-threshold move land a hair short (101.6 - 100.0 == 1.5999999999999943)."""

_TRIGGER_TEXT = {
    SurgeTrigger.PRICE: "price",
    SurgeTrigger.VOLUME: "volume",
    SurgeTrigger.PRICE_AND_VOLUME: "price & volume",
    SurgeTrigger.PRICE_DRIVEN: "price-led",
    SurgeTrigger.VOLUME_DRIVEN: "volume-led",
}
_ARROW = {Direction.UP: "↑", Direction.DOWN: "↓"}
_TEXTS = {
    (direction, trigger): (f"{_ARROW[direction]} {text}", f"{direction.value} {text}")
    for direction in Direction
    for trigger, text in _TRIGGER_TEXT.items()
}


def surge_trigger(
    config: SurgeConfig,
    mode: SurgeMode,
    *,
    abs_percent: float,
    abs_move: float,
    volume_multiplier: float,
    percent_threshold: float,
    dollar_threshold: float,
    volume_threshold: float,
    meets_price: bool,
    meets_volume: bool,
) -> SurgeTrigger | None:
    """Combine the price and volume conditions as the mode says; None when they do not make a surge.

    Args:
        config: The compensation factors of ADAPTIVE mode.
        mode: STRICT needs both conditions, OR either, ADAPTIVE both or one strongly with the other partly.
        abs_percent: |move| against the baseline, percent.
        abs_move: |move| against the baseline, currency units.
        volume_multiplier: Current-second volume over the buffer's mean point volume.
        percent_threshold: Percent threshold, direction multiplier included.
        dollar_threshold: Dollar threshold, currency units.
        volume_threshold: Volume multiplier threshold.
        meets_price: Whether both the percent and the dollar threshold are met.
        meets_volume: Whether the volume threshold is met with a positive volume.
    """
    if meets_price and meets_volume:
        return SurgeTrigger.PRICE_AND_VOLUME
    if mode is SurgeMode.OR:
        if meets_price:
            return SurgeTrigger.PRICE
        return SurgeTrigger.VOLUME if meets_volume else None
    if mode is not SurgeMode.ADAPTIVE or volume_multiplier <= 0.0:
        return None
    strong = config.price_compensation
    if (
        abs_percent >= percent_threshold * strong - EPSILON
        and abs_move >= dollar_threshold * strong - EPSILON
        and volume_multiplier >= volume_threshold * config.volume_floor - EPSILON
    ):
        return SurgeTrigger.PRICE_DRIVEN
    weak = config.price_floor
    if (
        volume_multiplier >= volume_threshold * config.volume_compensation - EPSILON
        and abs_percent >= percent_threshold * weak - EPSILON
        and abs_move >= dollar_threshold * weak - EPSILON
    ):
        return SurgeTrigger.VOLUME_DRIVEN
    return None


def surge_score(
    config: SurgeConfig,
    *,
    abs_percent: float,
    percent_threshold: float,
    volume_multiplier: float,
    volume_threshold: float,
    meets_volume: bool,
) -> float:
    """Score 0-100: the price part always, the volume part only for a volume surge.

    "A volume surge" (original: `is_volume_surge`) is the volume condition alone, in every mode:
    ADAPTIVE's strong-volume case implies it (volume_compensation >= 1). So a PRICE or PRICE_DRIVEN
    surge scores its price part only (50 at most), and every STRICT surge scores 100.
    """
    price_weight = config.price_score_weight
    score = min(abs_percent / percent_threshold * price_weight, price_weight)
    if meets_volume:
        volume_weight = config.volume_score_weight
        score += min(volume_multiplier / volume_threshold * volume_weight, volume_weight)
    return score


def surge_strength(config: SurgeConfig, score: float) -> SurgeStrength:
    """STRONG from `strong_score`, MODERATE from `moderate_score`, WEAK below."""
    if score >= config.strong_score:
        return SurgeStrength.STRONG
    return SurgeStrength.MODERATE if score >= config.moderate_score else SurgeStrength.WEAK


def passes_quality_rules(
    row: SurgePeriodConfig,
    trigger: SurgeTrigger,
    score: float,
    volatility: VolatilityClass,
    abs_percent: float,
) -> bool:
    """The period's stateless quality gates: minimum score, combined trigger, low-volatility move.

    The minimum dollar move is checked before the evaluation (it needs nothing else); the cooldown
    and the per-window cap depend on the symbol's earlier surges and stay with the detector.
    """
    if score < row.min_score - EPSILON:
        return False
    if row.require_combined_trigger and trigger in (SurgeTrigger.PRICE, SurgeTrigger.VOLUME):
        return False
    low_volatility_min = row.low_volatility_min_percent
    return (
        low_volatility_min is None
        or volatility is not VolatilityClass.LOW
        or abs_percent >= low_volatility_min - EPSILON
    )


def surge_texts(direction: Direction, trigger: SurgeTrigger) -> tuple[str, str]:
    """Return the (label, description) of a surge, e.g. ("↑ price & volume", "up price & volume")."""
    return _TEXTS[direction, trigger]
