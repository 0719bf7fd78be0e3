"""Seeded synthetic market: reproducible, realistic price walks for the demo feed and the producer simulator.

Pure and deterministic (no I/O, no clock): the same seed gives the same market.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from tickstock_server.domain.events import MarketStatus
from tickstock_server.domain.market_calendar import MarketCalendar
from tickstock_server.domain.market_session import MarketClock, MarketSession
from tickstock_server.domain.tick import Tick
from tickstock_server.support.time_units import NS_PER_S

__all__ = [
    "DEFAULT_START_NS",
    "REAL_TICKERS",
    "SyntheticMarket",
    "SyntheticMarketConfig",
    "synthetic_symbols",
]

_REAL_PROFILES: dict[str, tuple[float, float]] = {
    # ticker: (start price in USD, annualised volatility), rounded from late-2025 market levels.
    "AAPL": (270.0, 0.28), "MSFT": (480.0, 0.24), "NVDA": (180.0, 0.50), "TSLA": (430.0, 0.60),
    "AMZN": (230.0, 0.32), "GOOGL": (300.0, 0.30), "META": (650.0, 0.38), "AMD": (215.0, 0.55),
    "SPY": (680.0, 0.15), "QQQ": (620.0, 0.20), "AVGO": (340.0, 0.45), "JPM": (310.0, 0.22),
    "V": (350.0, 0.20), "MA": (570.0, 0.21), "UNH": (330.0, 0.35), "XOM": (118.0, 0.24),
    "JNJ": (205.0, 0.16), "PG": (148.0, 0.16), "HD": (350.0, 0.24), "COST": (900.0, 0.22),
    "ABBV": (225.0, 0.25), "MRK": (100.0, 0.25), "CVX": (150.0, 0.24), "LLY": (1050.0, 0.35),
    "PEP": (148.0, 0.18), "KO": (70.0, 0.15), "WMT": (113.0, 0.20), "BAC": (54.0, 0.26),
    "ORCL": (200.0, 0.50), "CRM": (240.0, 0.35), "ADBE": (340.0, 0.33), "NFLX": (110.0, 0.38),
    "INTC": (40.0, 0.55), "CSCO": (77.0, 0.22), "QCOM": (170.0, 0.35), "TXN": (175.0, 0.30),
    "IBM": (305.0, 0.28), "DIS": (112.0, 0.27), "NKE": (65.0, 0.35), "MCD": (310.0, 0.17),
    "PFE": (25.0, 0.24), "TMO": (580.0, 0.27), "ABT": (128.0, 0.20), "WFC": (86.0, 0.27),
    "GS": (850.0, 0.30), "MS": (170.0, 0.30), "CAT": (580.0, 0.32), "BA": (210.0, 0.38),
    "GE": (300.0, 0.32), "HON": (195.0, 0.22), "UBER": (85.0, 0.40), "PYPL": (60.0, 0.38),
    "SBUX": (85.0, 0.30), "T": (25.0, 0.20), "VZ": (41.0, 0.18), "CMCSA": (28.0, 0.28),
    "AMGN": (330.0, 0.24), "MU": (240.0, 0.55), "IWM": (245.0, 0.20), "DIA": (480.0, 0.14),
}  # fmt: skip

REAL_TICKERS: tuple[str, ...] = tuple(_REAL_PROFILES)
"""Well-known US large caps and ETFs; the first symbols of every synthetic universe. They start near
their real price levels with realistic volatilities; the rest of the universe is drawn at random."""

DEFAULT_START_NS = 1_767_623_100 * NS_PER_S
"""Simulated start: Monday 2026-01-05 09:25 ET (14:25 UTC), five minutes before the open."""

_TRADING_SECONDS_PER_YEAR = 252 * 6.5 * 3600
_PSEUDO_TICKER_SEED = 0x71C5  # fixed: the universe's names do not depend on the market's seed
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def synthetic_symbols(count: int) -> tuple[str, ...]:
    """Return the synthetic universe: the real tickers first, then distinct 4-5 letter pseudo tickers.

    Args:
        count: Number of symbols, >= 1. The same count always gives the same names.
    """
    symbols = list(REAL_TICKERS[:count])
    taken = set(REAL_TICKERS)
    rng = random.Random(_PSEUDO_TICKER_SEED)
    while len(symbols) < count:
        name = "".join(rng.choices(_LETTERS, k=rng.choice((4, 5))))
        if name not in taken:
            taken.add(name)
            symbols.append(name)
    return tuple(symbols)


@dataclass(frozen=True, slots=True, kw_only=True)
class SyntheticMarketConfig:
    """Shape of the synthetic market."""

    symbols: int = 4000
    """Number of symbols, >= 1."""
    min_start_price: float = 2.0
    """Lowest start price, currency units (start prices are log-uniform)."""
    max_start_price: float = 500.0
    """Highest start price, currency units."""
    min_annual_volatility: float = 0.15
    """Lowest annualised volatility of a symbol's log price (0.15 = 15 %)."""
    max_annual_volatility: float = 0.80
    """Highest annualised volatility of a symbol's log price."""
    max_step_s: float = 60.0
    """Longest time one price step covers, seconds; bounds the move after a symbol's long silence."""
    jumps_per_hour: float = 0.1
    """Mean jumps (news: a few-percent move on heavy volume) per symbol per hour of event time.

    An intensity in time rather than a chance per tick, so busy large caps jump no more often than the
    long tail; 0.1 gives about one jump every ten seconds across 4,000 symbols."""
    min_jump_percent: float = 2.0
    """Smallest jump, percent of the price."""
    max_jump_percent: float = 6.0
    """Largest jump, percent of the price."""

    def __post_init__(self) -> None:
        if self.symbols < 1:
            raise ValueError("symbols must be >= 1")
        if not 0 < self.min_start_price <= self.max_start_price:
            raise ValueError("need 0 < min_start_price <= max_start_price")
        if not 0 <= self.min_annual_volatility <= self.max_annual_volatility:
            raise ValueError("need 0 <= min_annual_volatility <= max_annual_volatility")
        if self.jumps_per_hour < 0:
            raise ValueError("jumps_per_hour must not be negative")
        if self.max_step_s <= 0 or not 0 <= self.min_jump_percent <= self.max_jump_percent:
            raise ValueError("need max_step_s > 0 and 0 <= min_jump_percent <= max_jump_percent")


class _SymbolWalk:
    """One symbol's random walk and its day statistics."""

    __slots__ = (
        "base_volume",
        "day_ordinal",
        "day_price_volume",
        "day_volume",
        "last_ts_ns",
        "open_price",
        "price",
        "sigma_per_sqrt_s",
        "symbol",
    )

    def __init__(self, symbol: str, price: float, sigma_per_sqrt_s: float, base_volume: float) -> None:
        self.symbol = symbol
        self.price = price
        self.sigma_per_sqrt_s = sigma_per_sqrt_s
        self.base_volume = base_volume
        self.last_ts_ns = 0
        self.day_ordinal = 0
        self.day_volume = 0
        self.day_price_volume = 0.0
        self.open_price: float | None = None


def _volume_multiplier(session: MarketSession) -> float:
    """Intraday U-shape: opening and closing bursts in the regular session, thin extended hours."""
    if session.status is MarketStatus.REGULAR:
        hours = session.hours
        assert hours is not None  # a regular session has hours
        since_open_min = session.minute_of_day - hours.open_minute
        to_close_min = hours.close_minute - session.minute_of_day
        return 1.0 + 3.0 * math.exp(-since_open_min / 20.0) + 2.0 * math.exp(-to_close_min / 25.0)
    if session.status is MarketStatus.PRE:
        return 0.15
    if session.status is MarketStatus.AFTER:
        return 0.1
    return 0.05


def _quote(price: float) -> float:
    # Exchanges quote in cents above $1 and in 1/100 cent below.
    return max(round(price, 2), 0.01) if price >= 1.0 else max(round(price, 4), 0.0001)


class SyntheticMarket:
    """Pure, synchronous tick generator: same seed and calls, same ticks.

    Each symbol follows a geometric random walk with its own volatility, scaled to the event time
    since its previous tick. Volume follows an intraday U-shape by ET time, with per-symbol
    liquidity and log-normal noise. Rare jumps move a price a few percent on heavy volume. Each
    symbol tracks its day (ET date) VWAP, accumulated volume and regular-session open.
    """

    def __init__(
        self,
        seed: int,
        config: SyntheticMarketConfig | None = None,
        *,
        calendar: MarketCalendar | None = None,
    ) -> None:
        """Create the market.

        Args:
            seed: Seed of the market's private random generator (the global one is never used).
            config: Universe size, prices, volatilities and jumps; defaults when omitted.
            calendar: Trading days that shape volume; None trades every weekday.
        """
        self.config = config = config if config is not None else SyntheticMarketConfig()
        self._rng = rng = random.Random(seed)
        self._clock = MarketClock() if calendar is None else MarketClock(calendar)
        self.symbols = synthetic_symbols(config.symbols)
        log_min = math.log(config.min_start_price)
        log_max = math.log(config.max_start_price)
        self._walks: list[_SymbolWalk] = []
        weights: list[float] = []
        for index, symbol in enumerate(self.symbols):
            real = index < len(REAL_TICKERS)
            annual_volatility = rng.uniform(config.min_annual_volatility, config.max_annual_volatility)
            base_volume = math.exp(rng.uniform(math.log(500), math.log(20_000) if real else math.log(5_000)))
            start_price = math.exp(rng.uniform(log_min, log_max))
            if real:
                start_price, annual_volatility = _REAL_PROFILES[symbol]
            self._walks.append(
                _SymbolWalk(
                    symbol=symbol,
                    price=_quote(start_price),
                    sigma_per_sqrt_s=annual_volatility / math.sqrt(_TRADING_SECONDS_PER_YEAR),
                    base_volume=base_volume,
                )
            )
            # Large caps trade far more often than the long tail.
            weights.append(rng.uniform(5.0, 20.0) if real else math.exp(rng.uniform(math.log(0.2), 1.1)))
        self._cum_weights: list[float] = []
        total = 0.0
        for weight in weights:
            total += weight
            self._cum_weights.append(total)
        self._indices = range(len(self._walks))

    def next_ticks(self, n: int, ts_ns: int, received_ns: int | None = None) -> list[Tick]:
        """Generate the next `n` ticks, all at event time `ts_ns`.

        Args:
            n: Number of ticks; symbols are drawn by activity, so one may appear more than once.
            ts_ns: Event time, UTC epoch nanoseconds; should not decrease between calls.
            received_ns: Receive time stamped on the ticks; the event time when None.
        """
        if received_ns is None:
            received_ns = ts_ns
        rng = self._rng
        config = self.config
        session = self._clock.session_at(ts_ns)
        day_ordinal = session.trading_date.toordinal()
        regular = session.status is MarketStatus.REGULAR
        volume_multiplier = _volume_multiplier(session)
        jump_rate_per_s = config.jumps_per_hour / 3600.0
        gauss = rng.gauss
        ticks: list[Tick] = []
        for index in rng.choices(self._indices, cum_weights=self._cum_weights, k=n):
            walk = self._walks[index]
            if walk.day_ordinal != day_ordinal:
                walk.day_ordinal = day_ordinal
                walk.day_volume = 0
                walk.day_price_volume = 0.0
                walk.open_price = None
            step_s = (ts_ns - walk.last_ts_ns) / NS_PER_S if walk.last_ts_ns else 1.0
            step_s = min(max(step_s, 0.0), config.max_step_s)
            walk.last_ts_ns = ts_ns
            sigma = walk.sigma_per_sqrt_s
            # Truncated at 4 sigma so an ordinary tick's move is bounded; jumps model the fat tail.
            shock = max(-4.0, min(4.0, gauss(0.0, 1.0)))
            log_return = sigma * math.sqrt(step_s) * shock - 0.5 * sigma * sigma * step_s
            volume_burst = 1.0
            if rng.random() < -math.expm1(-jump_rate_per_s * step_s):  # Poisson: P(jump in step)
                jump = rng.uniform(config.min_jump_percent, config.max_jump_percent) / 100.0
                log_return += math.log1p(jump) if rng.random() < 0.5 else math.log1p(-jump)
                volume_burst = rng.uniform(5.0, 10.0)
            walk.price *= math.exp(log_return)
            price = _quote(walk.price)
            noise = rng.lognormvariate(0.0, 0.5)
            volume = max(1, int(walk.base_volume * volume_multiplier * volume_burst * noise))
            walk.day_volume += volume
            walk.day_price_volume += price * volume
            if regular and walk.open_price is None:
                walk.open_price = price
            ticks.append(
                Tick(
                    symbol=walk.symbol,
                    price=price,
                    volume=volume,
                    ts_ns=ts_ns,
                    received_ns=received_ns,
                    vwap=round(walk.day_price_volume / walk.day_volume, 4),
                    open_price=walk.open_price,
                    accumulated_volume=walk.day_volume,
                )
            )
        return ticks
