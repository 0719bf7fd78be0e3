"""Seeded stream of realistic TickStockPL pattern envelopes: names, tiers, confidences, prices, indicators."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from tickstock_server.producer_sim.contract import PRODUCER_SOURCE, JsonObject
from tickstock_server.simulation.market import (
    DEFAULT_START_NS,
    SyntheticMarket,
    SyntheticMarketConfig,
    synthetic_symbols,
)
from tickstock_server.support.time_units import NS_PER_HOUR, NS_PER_S

__all__ = ["PRODUCER_PATTERNS", "TIER_TTL_S", "PatternGenerator", "ProducerPattern"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProducerPattern:
    """A pattern the producer reports, with the tiers it appears on and the way it leans."""

    name: str
    """Name as the producer spells it."""
    tiers: tuple[str, ...]
    """Tiers ("daily", "intraday", "combo") it is reported on, drawn uniformly."""
    bias: int
    """+1 bullish, -1 bearish, 0 either way: shifts price change, RSI and relative strength."""
    weight: float
    """Relative frequency."""


PRODUCER_PATTERNS: tuple[ProducerPattern, ...] = (
    # The pattern names TickStockPL publishes, as the original application cached them.
    ProducerPattern(name="Weekly_Breakout", tiers=("daily", "combo"), bias=1, weight=1.0),
    ProducerPattern(name="Bull_Flag", tiers=("daily", "intraday"), bias=1, weight=1.2),
    ProducerPattern(name="Trendline_Hold", tiers=("daily",), bias=1, weight=0.8),
    ProducerPattern(name="Volume_Spike", tiers=("intraday", "combo"), bias=0, weight=2.0),
    ProducerPattern(name="Gap_Fill", tiers=("intraday",), bias=0, weight=0.8),
    ProducerPattern(name="Momentum_Shift", tiers=("intraday", "combo"), bias=0, weight=1.5),
    ProducerPattern(name="Support_Test", tiers=("daily", "intraday"), bias=1, weight=1.0),
    ProducerPattern(name="Resistance_Break", tiers=("daily", "combo"), bias=1, weight=1.0),
    ProducerPattern(name="Ascending_Triangle", tiers=("daily",), bias=1, weight=0.6),
    ProducerPattern(name="Reversal_Signal", tiers=("intraday", "combo"), bias=-1, weight=1.0),
    ProducerPattern(name="Doji", tiers=("daily", "intraday"), bias=0, weight=1.5),
    ProducerPattern(name="Hammer", tiers=("daily", "intraday"), bias=1, weight=1.0),
    ProducerPattern(name="Engulfing", tiers=("daily", "intraday"), bias=0, weight=1.0),
)
"""Every pattern the simulator publishes."""

TIER_TTL_S: dict[str, int] = {"daily": 3600, "combo": 3600, "intraday": 1800}
"""Seconds from detection to `expires_at`, per tier; never beyond the app's one-hour cache TTL (the
original's fallback sent expiries three days out)."""

_CONFIDENCE_MIN = 0.5
_CONFIDENCE_SPAN = 0.45
# Beta(2, 3) on [0.5, 0.95]: mean 0.68, most between 0.55 and 0.8, a thin tail up to 0.95.
_CONFIDENCE_BETA = (2.0, 3.0)
# The simulated market's clock: one second of market time per pattern, from 10:25 ET (regular session)
# of the synthetic feed's first day, so prices move independently of the wall clock and stay seeded.
_MARKET_ORIGIN_NS = DEFAULT_START_NS + NS_PER_HOUR
_LIST_MIN_PRICE = 5.0
_LIST_MAX_PRICE = 500.0
_LIST_STEP_SIGMA = 0.002


def _quote(price: float) -> float:
    return max(round(price, 2), 0.01) if price >= 1.0 else max(round(price, 4), 0.0001)


class _Quotes:
    """Picks the next symbol and its price.

    For the synthetic universe (`synthetic_symbols(n)`, the default) a `SyntheticMarket` with the same
    seed does both: large caps are picked more often and prices sit at the levels of the server's
    synthetic feed of that seed (real tickers near their real prices). Any other symbol list is picked
    uniformly, each symbol walking from a log-uniform start price between $5 and $500.
    """

    def __init__(self, symbols: Sequence[str], seed: int, rng: random.Random) -> None:
        self._market: SyntheticMarket | None = None
        self._symbols = tuple(symbols)
        self._prices: list[float] = []
        if self._symbols == synthetic_symbols(len(self._symbols)):
            self._market = SyntheticMarket(seed, SyntheticMarketConfig(symbols=len(self._symbols)))
        else:
            log_min, log_max = math.log(_LIST_MIN_PRICE), math.log(_LIST_MAX_PRICE)
            self._prices = [_quote(math.exp(rng.uniform(log_min, log_max))) for _ in self._symbols]
        self._rng = rng
        self._steps = 0

    def next(self) -> tuple[str, float]:
        self._steps += 1
        if self._market is not None:
            (tick,) = self._market.next_ticks(1, _MARKET_ORIGIN_NS + self._steps * NS_PER_S)
            return tick.symbol, tick.price
        index = self._rng.randrange(len(self._symbols))
        self._prices[index] = price = _quote(
            self._prices[index] * math.exp(self._rng.gauss(0.0, _LIST_STEP_SIGMA))
        )
        return self._symbols[index], price


class PatternGenerator:
    """Builds pattern envelopes exactly in the producer's contract; same seed and times, same messages.

    Each envelope::

        {"event_type": "pattern_detected", "source": "TickStockPL", "timestamp": <epoch s>,
         "data": {"symbol", "pattern", "confidence" (0.5-0.95), "flow_id" (uuid4 from the seeded RNG),
                  "tier" (daily|intraday|combo), "price_change" (percent), "current_price", "volume",
                  "timestamp" (detection, epoch s), "expires_at" (epoch s, <= 1 h later),
                  "indicators": {"relative_strength", "relative_volume", "rsi"}}}
    """

    def __init__(self, symbols: Sequence[str], seed: int) -> None:
        """Create the stream.

        Args:
            symbols: Symbols to report patterns on, at least one.
            seed: Seed of the private random generators (the global one is never used).
        """
        if not symbols:
            raise ValueError("need at least one symbol")
        self._rng = random.Random(seed)
        self._quotes = _Quotes(symbols, seed, self._rng)
        self._weights = [pattern.weight for pattern in PRODUCER_PATTERNS]

    def next_message(self, now_s: float) -> JsonObject:
        """The next pattern envelope, detected at `now_s` (epoch seconds)."""
        rng = self._rng
        symbol, price = self._quotes.next()
        (pattern,) = rng.choices(PRODUCER_PATTERNS, weights=self._weights)
        tier = rng.choice(pattern.tiers)
        confidence = _CONFIDENCE_MIN + _CONFIDENCE_SPAN * rng.betavariate(*_CONFIDENCE_BETA)
        price_change = _clamp(rng.gauss(1.0 * pattern.bias, 1.5), -10.0, 10.0)
        if pattern.name == "Volume_Spike":
            relative_volume = rng.uniform(2.0, 6.0)
        else:
            relative_volume = _clamp(rng.lognormvariate(0.2, 0.4), 0.2, 8.0)
        relative_strength = _clamp(math.exp(rng.gauss(0.15 * pattern.bias, 0.25)), 0.3, 3.0)
        rsi = _clamp(rng.gauss(50.0 + 10.0 * pattern.bias, 10.0), 5.0, 95.0)
        volume = max(100, int(rng.lognormvariate(math.log(500_000), 1.0)))
        flow_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        detected_s = round(now_s, 3)
        return {
            "event_type": "pattern_detected",
            "source": PRODUCER_SOURCE,
            "timestamp": detected_s,
            "data": {
                "symbol": symbol,
                "pattern": pattern.name,
                "confidence": round(confidence, 3),
                "flow_id": str(flow_id),
                "tier": tier,
                "price_change": round(price_change, 2),
                "current_price": price,
                "volume": volume,
                "timestamp": detected_s,
                "expires_at": round(detected_s + TIER_TTL_S[tier], 3),
                "indicators": {
                    "relative_strength": round(relative_strength, 2),
                    "relative_volume": round(relative_volume, 2),
                    "rsi": round(rsi, 1),
                },
            },
        }


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)
