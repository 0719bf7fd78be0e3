"""Surge properties over random ticks: determinism, no surge without movement, bounded state,
events consistent with their trigger."""

import dataclasses
import math
import random

import pytest
from factories import NS_PER_S, REGULAR_TS_NS, make_tick, ns_at
from hypothesis import given, settings
from hypothesis import strategies as st
from surge_steps import AFTER_TS_NS, CLOSED_TS_NS, OPENING_TS_NS, PRE_TS_NS, details

from tickstock_server.detection.surge import SurgeConfig, SurgeDetector
from tickstock_server.domain.events import (
    Direction,
    Event,
    SurgeMode,
    SurgeStrength,
    SurgeTrigger,
)
from tickstock_server.domain.market_session import MarketClock

# --- properties ---

STARTS_NS = [PRE_TS_NS, OPENING_TS_NS, REGULAR_TS_NS, ns_at("2026-01-06T20:30:00"), AFTER_TS_NS, CLOSED_TS_NS]

tick_step = st.tuples(
    st.integers(min_value=0, max_value=3_000),  # milliseconds since the previous tick
    st.one_of(st.integers(-30, 30), st.integers(-800, 800)),  # price change, basis points: drift or jump
    st.one_of(st.integers(0, 300), st.integers(0, 20_000)),  # volume: normal or spiking
)
tick_steps = st.lists(tick_step, max_size=250)


def replay(
    steps: list[tuple[int, int, int]], detector: SurgeDetector, start_ns: int, price: float = 100.0
) -> list[Event | None]:
    clock = MarketClock()
    ts_ns = start_ns
    results = []
    for gap_ms, change_bp, volume in steps:
        ts_ns += gap_ms * 1_000_000
        price = max(round(price * (1 + change_bp / 10_000), 2), 0.01)
        results.append(
            detector.update(make_tick(price=price, volume=volume, ts_ns=ts_ns), clock.session_at(ts_ns))
        )
    return results


# Every period's gates opened up, so that property tests see many events of every trigger.
PERMISSIVE = SurgeConfig(
    periods=tuple(
        (
            period,
            dataclasses.replace(
                row,
                min_points=2,
                min_score=0.0,
                quality_cooldown_ns=0,
                max_surges_per_window=5,
                require_combined_trigger=False,
                low_volatility_min_percent=None,
            ),
        )
        for period, row in SurgeConfig().periods
    ),
    bands=tuple((bucket, dataclasses.replace(band, min_move=0.0)) for bucket, band in SurgeConfig().bands),
    cooldown_multiplier=0.0,
)


@given(tick_steps, st.sampled_from(STARTS_NS))
def test_same_ticks_give_same_events(steps: list[tuple[int, int, int]], start_ns: int) -> None:
    first = replay(steps, SurgeDetector("AAPL", PERMISSIVE), start_ns)
    second = replay(steps, SurgeDetector("AAPL", PERMISSIVE), start_ns)

    assert first == second


@given(
    st.integers(min_value=1, max_value=1_000_000),
    st.lists(st.tuples(st.integers(0, 3_000), st.integers(0, 10**6)), max_size=300),
)
def test_constant_price_never_surges_in_strict_mode(
    cents: int, gaps_and_volumes: list[tuple[int, int]]
) -> None:
    steps = [(gap_ms, 0, volume) for gap_ms, volume in gaps_and_volumes]

    results = replay(steps, SurgeDetector("AAPL"), REGULAR_TS_NS, price=cents / 100)

    assert all(r is None for r in results)


@settings(max_examples=20)
@given(st.integers(min_value=0, max_value=2**32), st.sampled_from([SurgeConfig(), SurgeConfig(history_s=20)]))
def test_state_stays_bounded_at_any_tick_rate(seed: int, config: SurgeConfig) -> None:
    detector = SurgeDetector("AAPL", config)
    rng = random.Random(seed)
    clock = MarketClock()
    ts_ns = REGULAR_TS_NS
    high_water = 0
    for _ in range(3_000):
        ts_ns += rng.choice((0, 1_000_000, 50_000_000, NS_PER_S, 7 * NS_PER_S))
        tick = make_tick(price=rng.uniform(90.0, 110.0), volume=rng.randint(0, 10_000), ts_ns=ts_ns)
        detector.update(tick, clock.session_at(ts_ns))
        high_water = max(high_water, detector.retained_items)

    # history_s points + volatility_window_s points + the largest per-window cap (5, OPENING).
    assert high_water <= config.max_retained_items == config.history_s + 30 + 5


TOLERANCE = 1e-6

# Random ticks, then a quiet baseline and a large move on spiking volume: every example has a surge to
# check, whatever the random part did.
surging_steps = st.builds(
    lambda noise, quiet, move, volume: [*noise, *[(1_000, 0, 100)] * quiet, (1_000, move, volume)],
    st.lists(tick_step, max_size=150),
    st.integers(min_value=45, max_value=60),  # longer than the volatility window and any baseline age
    st.one_of(st.integers(800, 2_000), st.integers(-2_000, -800)),
    st.integers(20_000, 50_000),
)


@settings(max_examples=300)  # several events per example: every trigger shows up
@given(surging_steps, st.sampled_from(STARTS_NS))
def test_every_event_is_consistent_with_its_trigger_and_thresholds(
    steps: list[tuple[int, int, int]], start_ns: int
) -> None:
    events = [e for e in replay(steps, SurgeDetector("AAPL", PERMISSIVE), start_ns) if e is not None]

    assert events
    for event in events:
        surge = details(event)
        t = surge.thresholds
        percent = abs(surge.magnitude)
        dollars = abs(event.price - surge.baseline_price)
        multiplier = surge.volume_multiplier
        meets_price = (
            percent >= t.min_percent_change - TOLERANCE and dollars >= t.min_price_change - TOLERANCE
        )
        meets_volume = multiplier >= t.min_volume_multiplier - TOLERANCE and event.volume > 0
        assert (event.direction is Direction.UP) == (surge.magnitude > 0) and surge.magnitude != 0
        assert surge.magnitude == pytest.approx(
            (event.price - surge.baseline_price) / surge.baseline_price * 100
        )
        assert multiplier == event.relative_volume and 0.0 <= surge.score <= 100.0
        assert {
            SurgeTrigger.PRICE_AND_VOLUME: meets_price and meets_volume,
            SurgeTrigger.PRICE: t.mode is SurgeMode.OR and meets_price,
            SurgeTrigger.VOLUME: t.mode is SurgeMode.OR and meets_volume,
            SurgeTrigger.PRICE_DRIVEN: t.mode is SurgeMode.ADAPTIVE
            and percent >= 1.5 * t.min_percent_change - TOLERANCE
            and dollars >= 1.5 * t.min_price_change - TOLERANCE
            and multiplier >= 0.7 * t.min_volume_multiplier - TOLERANCE,
            SurgeTrigger.VOLUME_DRIVEN: t.mode is SurgeMode.ADAPTIVE
            and multiplier >= 2.0 * t.min_volume_multiplier - TOLERANCE
            and percent >= 0.5 * t.min_percent_change - TOLERANCE
            and dollars >= 0.5 * t.min_price_change - TOLERANCE,
        }[surge.trigger]
        assert surge.strength is (
            SurgeStrength.STRONG
            if surge.score >= 80
            else SurgeStrength.MODERATE
            if surge.score >= 60
            else SurgeStrength.WEAK
        )
    assert [details(e).daily_count for e in events] == [e.count for e in events]
    assert all(not math.isnan(details(e).score) for e in events)
