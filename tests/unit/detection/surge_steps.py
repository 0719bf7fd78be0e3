"""Tick sequences, configurations and helpers for the surge detector tests."""

import dataclasses
from typing import Any

from factories import NS_PER_S, REGULAR_TS_NS, make_tick, ns_at

from tickstock_server.detection.surge import SurgeConfig, SurgeDetector
from tickstock_server.domain.events import (
    Event,
    MarketPeriod,
    SurgeDetails,
    SurgeTrigger,
)
from tickstock_server.domain.market_session import MarketClock

MIDDAY, OPENING, CLOSED = MarketPeriod.MIDDAY, MarketPeriod.OPENING, MarketPeriod.CLOSED
P_AND_V = SurgeTrigger.PRICE_AND_VOLUME

# Tuesday 2026-01-06 (EST, UTC-5) unless stated; REGULAR_TS_NS is 10:00 ET, midday.
PRE_TS_NS = ns_at("2026-01-06T14:28:00")  # 09:28 ET, pre-market
OPENING_TS_NS = ns_at("2026-01-06T14:30:00")  # 09:30 ET
AFTER_TS_NS = ns_at("2026-01-06T22:00:00")  # 17:00 ET, after hours
CLOSED_TS_NS = ns_at("2026-01-10T15:00:00")  # Saturday

Step = tuple[float, float, int]  # (seconds after the start, price, volume)


def steady(seconds: int, price: float, volume: int = 100, start: int = 0) -> list[Step]:
    """One tick per second at a constant price: a LOW volatility history."""
    return [(float(s), price, volume) for s in range(start, start + seconds)]


def zigzag(seconds: int, low: float, high: float, volume: int = 100) -> list[Step]:
    """One tick per second, `low` on even seconds and `high` on odd ones: a NORMAL volatility history.

    A 1.5 % zigzag has a coefficient of variation of about 0.75 %, between LOW (< 0.5 %) and HIGH (> 2 %).
    """
    return [(float(s), low if s % 2 == 0 else high, volume) for s in range(seconds)]


def feed(
    detector: SurgeDetector, steps: list[Step], *, start_ns: int = REGULAR_TS_NS, **fields: Any
) -> list[Event | None]:
    clock = MarketClock()
    results = []
    for offset_s, price, volume in steps:
        ts_ns = start_ns + round(offset_s * NS_PER_S)
        tick = make_tick(price=price, volume=volume, ts_ns=ts_ns, **fields)
        results.append(detector.update(tick, clock.session_at(ts_ns)))
    return results


def run(
    steps: list[Step], *, start_ns: int = REGULAR_TS_NS, config: SurgeConfig | None = None, **fields: Any
) -> list[Event | None]:
    """Feed a new AAPL detector one tick per step; return what each tick produced."""
    return feed(SurgeDetector("AAPL", config), steps, start_ns=start_ns, **fields)


def surge_of(results: list[Event | None]) -> SurgeDetails:
    """The details of the only event, which must be the last result."""
    assert [r is None for r in results] == [True] * (len(results) - 1) + [False]
    event = results[-1]
    assert event is not None
    return details(event)


def outcome(results: list[Event | None]) -> SurgeTrigger | None:
    """The trigger of the last result (None for no event); earlier results must all be None."""
    assert all(r is None for r in results[:-1])
    last = results[-1]
    return None if last is None else details(last).trigger


def details(event: Event) -> SurgeDetails:
    assert isinstance(event.details, SurgeDetails)
    return event.details


def with_row(period: MarketPeriod, config: SurgeConfig | None = None, **changes: Any) -> SurgeConfig:
    """The default (or given) configuration with some fields of one period's row changed."""
    config = config if config is not None else SurgeConfig()
    return config.with_period(period, dataclasses.replace(config.period(period), **changes))


# Resolved thresholds: min(period %, band %) x volatility x thr_mult; band $ x thr_mult.
