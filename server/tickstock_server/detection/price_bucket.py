"""The price buckets of the trend and surge detectors (high/low keeps its own tiers, see high_low.py)."""

from __future__ import annotations

import enum

__all__ = ["PriceBucket", "VolatilityClass", "price_bucket", "volatility_class"]


class PriceBucket(enum.Enum):
    """Price bucket of a symbol for the trend and surge thresholds (original `get_price_bucket`).

    PENNY below $10, LOW below $50, MID below $200, HIGH below $500, ULTRA from $500. This is the one
    scheme both detectors use; high/low's $1/$5/$25/$100 tiers are a separate, documented table.
    """

    PENNY = "penny"
    LOW = "low"
    MID = "mid"
    HIGH = "high"
    ULTRA = "ultra"


def price_bucket(price: float) -> PriceBucket:
    """Return the bucket of a price (currency units)."""
    if price < 50.0:
        return PriceBucket.PENNY if price < 10.0 else PriceBucket.LOW
    if price < 200.0:
        return PriceBucket.MID
    return PriceBucket.HIGH if price < 500.0 else PriceBucket.ULTRA


class VolatilityClass(enum.Enum):
    """Recent volatility of a symbol from the coefficient of variation of its prices."""

    LOW = "low"
    """Coefficient of variation below 0.5 %."""
    NORMAL = "normal"
    HIGH = "high"
    """Coefficient of variation above 2 %."""


def volatility_class(coefficient_of_variation: float) -> VolatilityClass:
    """Classify a coefficient of variation (standard deviation / mean, as a fraction: 0.01 = 1 %)."""
    if coefficient_of_variation > 0.02:
        return VolatilityClass.HIGH
    if coefficient_of_variation < 0.005:
        return VolatilityClass.LOW
    return VolatilityClass.NORMAL
