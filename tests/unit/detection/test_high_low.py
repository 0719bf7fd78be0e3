import math
import random
from itertools import pairwise
from typing import Any

import pytest
from factories import NS_PER_S, REGULAR_TS_NS, make_tick, ns_at
from hypothesis import given, settings
from hypothesis import strategies as st

from tickstock_server.detection.high_low import HighLowConfig, HighLowDetector, PriceTier
from tickstock_server.domain.events import (
    Direction,
    Event,
    EventType,
    HighLowThresholds,
    MarketPeriod,
    MarketStatus,
    ReversalPattern,
    ReversalType,
)
from tickstock_server.domain.market_session import MarketClock

HIGH, LOW = EventType.HIGH, EventType.LOW
PRE_TS_NS = ns_at("2026-01-06T14:20:00")  # 09:20 ET, pre-market
OPEN_TS_NS = ns_at("2026-01-06T14:30:00")  # 09:30 ET, the regular open

Step = tuple[float, float]  # (seconds after the start, price)


def run(
    steps: list[Step], *, start_ns: int = REGULAR_TS_NS, config: HighLowConfig | None = None, **tick: Any
) -> list[Event | None]:
    """Feed one detector a tick per step; return what each tick produced."""
    detector = HighLowDetector("AAPL", config)
    clock = MarketClock()
    results = []
    for offset_s, price in steps:
        ts_ns = start_ns + round(offset_s * NS_PER_S)
        results.append(detector.update(make_tick(price=price, ts_ns=ts_ns, **tick), clock.session_at(ts_ns)))
    return results


def summary(event: Event | None) -> tuple[Any, ...] | None:
    """Type, price, label, counts and the extremes before the event."""
    if event is None:
        return None
    return (
        event.type,
        event.price,
        event.label,
        (event.count, event.count_up, event.count_down),
        (event.details.previous_high, event.details.previous_low),
    )


def test_first_tick_emits_nothing() -> None:
    results = run([(0, 100.0)])

    assert results == [None]


def test_stock_near_open_emits_high_beating_previous_high_by_tier_dollars() -> None:
    # $300 tier >= 100: $0.10 or 0.05 %. 300.10 is only 0.033 % above the open, which the original's
    # broken gate (percent versus the open) rejected.
    results = run([(0, 300.00), (2, 300.10)], open_price=300.00)

    assert [summary(r) for r in results] == [None, (HIGH, 300.10, "HIGH #1", (1, 1, 0), (300.00, 300.00))]


def test_move_below_both_tier_minimums_emits_nothing() -> None:
    results = run([(0, 300.00), (2, 300.09), (4, 299.91)])

    assert results == [None, None, None]


def test_tiny_new_high_far_from_open_emits_nothing() -> None:
    # 2 % above the open (the original emitted here), but only $0.01 above the previous high.
    results = run([(0, 100.00), (2, 102.00), (4, 102.01)], open_price=100.00)

    assert [summary(r) for r in results] == [None, (HIGH, 102.00, "HIGH #1", (1, 1, 0), (100.0, 100.0)), None]


@pytest.mark.parametrize(
    ("base", "new", "emits", "min_price_change", "min_percent_change"),
    [
        (0.5000, 0.5010, True, 0.005, 0.20),  # < $1: 0.20 % of 0.50 = 0.001
        (0.5000, 0.5009, False, 0.005, 0.20),
        (4.0000, 4.0060, True, 0.01, 0.15),  # < $5: 0.15 % of 4.00 = 0.006
        (4.0000, 4.0059, False, 0.01, 0.15),
        (20.000, 20.020, True, 0.02, 0.10),  # < $25: $0.02 = 0.10 %
        (20.000, 20.0199, False, 0.02, 0.10),
        (50.000, 50.040, True, 0.05, 0.08),  # < $100: 0.08 % of 50 = 0.04, below $0.05
        (50.000, 50.0399, False, 0.05, 0.08),
        (80.000, 80.050, True, 0.05, 0.08),  # < $100: $0.05, below 0.08 % of 80 = 0.064
        (80.000, 80.0499, False, 0.05, 0.08),
        (150.00, 150.075, True, 0.10, 0.05),  # >= $100: 0.05 % of 150 = 0.075
        (150.00, 150.0749, False, 0.10, 0.05),
        (300.00, 300.10, True, 0.10, 0.05),  # >= $100: $0.10, below 0.05 % of 300 = 0.15
        (300.00, 300.0999, False, 0.10, 0.05),
        (50.000, 49.960, True, 0.05, 0.08),  # lows mirror highs
        (50.000, 49.9601, False, 0.05, 0.08),
    ],
)
def test_price_tier_gate_emits_exactly_at_tier_minimum(
    base: float, new: float, emits: bool, min_price_change: float, min_percent_change: float
) -> None:
    results = run([(0, base), (2, new)])

    assert [r is not None for r in results] == [False, emits]
    assert all(
        r.details.thresholds
        == HighLowThresholds(
            min_price_change=min_price_change, min_percent_change=min_percent_change, cooldown_ns=NS_PER_S
        )
        for r in results
        if r is not None
    )


def test_second_high_within_cooldown_is_suppressed_until_cooldown_passes() -> None:
    results = run([(0, 100.00), (1.0, 100.10), (1.5, 100.20), (1.999, 100.25), (2.0, 100.30)])

    assert [summary(r) for r in results] == [
        None,
        (HIGH, 100.10, "HIGH #1", (1, 1, 0), (100.00, 100.00)),
        None,
        None,
        (HIGH, 100.30, "HIGH #2", (2, 2, 0), (100.10, 100.00)),
    ]


def test_low_within_cooldown_of_a_high_is_suppressed() -> None:
    results = run([(0, 100.00), (1.0, 100.10), (1.5, 99.80)])

    assert [r is None for r in results] == [True, False, True]


def test_prices_equal_to_the_extremes_emit_nothing() -> None:
    results = run([(0, 100.00), (2, 100.10), (4, 100.10), (6, 100.00), (8, 100.10)])

    assert [r is None for r in results] == [True, False, True, True, True]


def test_regular_session_seeds_extremes_from_the_open() -> None:
    results = run([(0, 100.50), (2, 99.90), (4, 100.55), (6, 100.60)], open_price=100.00)

    assert [summary(r) for r in results] == [
        None,  # high 100.50, low 100.00 (the open)
        (LOW, 99.90, "LOW #1", (1, 0, 1), (100.50, 100.00)),
        None,  # 0.05 above the high: below $0.10 and 0.05 %
        (HIGH, 100.60, "HIGH #1", (2, 1, 1), (100.50, 99.90)),
    ]


def test_pre_market_seeds_from_first_price_despite_open() -> None:
    results = run([(0, 100.50), (2, 100.40)], start_ns=PRE_TS_NS, open_price=100.00)

    assert [summary(r) for r in results] == [None, (LOW, 100.40, "LOW #1", (1, 0, 1), (100.50, 100.50))]


def test_session_change_resets_extremes_and_counts() -> None:
    open_offset_s = (OPEN_TS_NS - PRE_TS_NS) / NS_PER_S
    steps = [(0, 100.00), (2, 100.20), (open_offset_s, 100.05), (open_offset_s + 2, 100.15)]

    results = run(steps, start_ns=PRE_TS_NS)

    assert [summary(r) for r in results] == [
        None,
        (HIGH, 100.20, "HIGH #1", (1, 1, 0), (100.00, 100.00)),
        None,  # regular open: high = low = 100.05, counts back to 0
        (HIGH, 100.15, "HIGH #1", (1, 1, 0), (100.05, 100.05)),
    ]
    assert [(r.market_status, r.market_period) for r in results if r is not None] == [
        (MarketStatus.PRE, MarketPeriod.PREMARKET),
        (MarketStatus.REGULAR, MarketPeriod.OPENING),
    ]


@pytest.mark.parametrize(
    ("low_after_s", "reversal", "rapid"),
    [(30, True, True), (70, True, False), (300, True, False), (301, False, False)],
)
def test_low_after_high_within_window_is_v_top(low_after_s: float, reversal: bool, rapid: bool) -> None:
    results = run([(0, 100.00), (1, 100.10), (1 + low_after_s, 99.90)])

    event = results[2]
    assert event is not None
    assert event.reversal is reversal
    info = event.details.reversal_info
    assert (info is not None) is reversal
    assert info is None or (info.type, info.rapid, info.time_span_ns) == (
        ReversalType.V_TOP,
        rapid,
        low_after_s * NS_PER_S,
    )
    assert info is None or (info.previous_type, info.previous_price, info.pattern) == (HIGH, 100.10, None)


def test_high_after_low_within_window_is_v_bottom() -> None:
    results = run([(0, 100.00), (1, 99.90), (100, 100.10)])

    info = results[2].details.reversal_info if results[2] is not None else None
    assert info is not None
    assert (info.type, info.previous_type, info.previous_price, info.rapid) == (
        ReversalType.V_BOTTOM,
        LOW,
        99.90,
        False,
    )


def test_low_high_low_then_high_is_w_bottom() -> None:
    results = run([(0, 100.00), (2, 99.90), (4, 100.10), (6, 99.80), (8, 100.20)])

    infos = [r.details.reversal_info for r in results if r is not None]
    assert [(i.type, i.pattern) if i is not None else None for i in infos] == [
        None,
        (ReversalType.V_BOTTOM, None),
        (ReversalType.V_TOP, None),
        (ReversalType.V_BOTTOM, ReversalPattern.W_BOTTOM),
    ]
    assert summary(results[4]) == (HIGH, 100.20, "HIGH #2", (4, 2, 2), (100.10, 99.80))


def test_high_low_high_then_low_is_m_top() -> None:
    results = run([(0, 100.00), (2, 100.10), (4, 99.90), (6, 100.20), (8, 99.80)])

    last = results[4]
    info = last.details.reversal_info if last is not None else None
    assert info is not None
    assert (info.type, info.pattern) == (ReversalType.V_TOP, ReversalPattern.M_TOP)
    assert summary(last) == (LOW, 99.80, "LOW #2", (4, 2, 2), (100.20, 99.90))


def test_event_carries_significance_volume_and_vwap_metrics() -> None:
    detector = HighLowDetector("AAPL")
    clock = MarketClock()
    ticks = [make_tick(price=100.00, volume=100, ts_ns=REGULAR_TS_NS + i * NS_PER_S) for i in range(4)]
    ticks.append(make_tick(price=100.10, volume=200, vwap=100.00, ts_ns=REGULAR_TS_NS + 4 * NS_PER_S))

    events = [detector.update(t, clock.session_at(t.ts_ns)) for t in ticks]

    event = events[-1]
    assert event is not None
    # Average volume (100 * 4 + 200) / 5 = 120; base price is the first price, 100.
    assert event.relative_volume == pytest.approx(200 / 120, abs=1e-9)
    assert event.percent_change == pytest.approx(0.1, abs=1e-9)
    assert event.details.significance_score == pytest.approx(0.5 * 1.0 + 0.5 * (25 * 200 / 120), abs=1e-9)
    assert event.vwap == 100.00
    assert event.vwap_divergence == pytest.approx(0.1, abs=1e-9)
    assert (event.volume, event.direction, event.details.session_high) == (200, Direction.UP, 100.10)
    assert (event.details.trend_flag, event.details.surge_flag) == (None, None)


def test_relative_volume_is_zero_before_five_volumes() -> None:
    results = run([(0, 100.00), (2, 100.10)])

    event = results[1]
    assert event is not None
    assert event.relative_volume == 0.0
    assert event.details.significance_score == pytest.approx(0.5 * 1.0, abs=1e-9)


def test_event_identity_is_deterministic_and_versioned() -> None:
    results = run([(0, 100.00), (2, 100.10)])

    event = results[1]
    assert event is not None
    assert event.event_id == f"AAPL:high:{REGULAR_TS_NS + 2 * NS_PER_S}:1"
    assert event.detector_version == "high_low/1"
    assert event.config_hash == HighLowConfig().config_hash


def test_config_hash_is_short_hex_and_tracks_fields() -> None:
    default = HighLowConfig()

    assert len(default.config_hash) == 16
    assert int(default.config_hash, 16) >= 0
    assert HighLowConfig(cooldown_ns=NS_PER_S).config_hash == default.config_hash
    assert HighLowConfig(cooldown_ns=2 * NS_PER_S).config_hash != default.config_hash


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_price_change": 0.0},
        {"cooldown_ns": -1},
        {"significance_volume_weight": 1.5},
        {"volume_history_min": 30},
        {"price_tiers": (PriceTier(below_price=10.0, price_change_factor=1.0, percent_change_factor=1.0),)},
    ],
)
def test_invalid_config_raises_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        HighLowConfig(**kwargs)


def test_reset_forgets_the_session() -> None:
    detector = HighLowDetector("AAPL")
    session = MarketClock().session_at(REGULAR_TS_NS)
    detector.update(make_tick(price=100.0), session)

    detector.reset()

    assert (detector.session_high, detector.session_low, detector.retained_items) == (None, None, 0)
    assert detector.update(make_tick(price=200.0, ts_ns=REGULAR_TS_NS + NS_PER_S), session) is None


# Property tests: hypothesis draws tick sequences of one symbol over a regular session.
tick_steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=5_000),  # milliseconds since the previous tick
        st.integers(min_value=9_000, max_value=11_000),  # price in cents
        st.integers(min_value=0, max_value=10_000),  # volume
    ),
    max_size=300,
)


def replay(steps: list[tuple[int, int, int]], detector: HighLowDetector) -> list[Event | None]:
    clock = MarketClock()
    ts_ns = REGULAR_TS_NS
    results = []
    for gap_ms, cents, volume in steps:
        ts_ns += gap_ms * 1_000_000
        tick = make_tick(price=cents / 100, volume=volume, ts_ns=ts_ns)
        results.append(detector.update(tick, clock.session_at(ts_ns)))
    return results


@given(tick_steps)
def test_same_ticks_give_same_events(steps: list[tuple[int, int, int]]) -> None:
    first = replay(steps, HighLowDetector("AAPL"))
    second = replay(steps, HighLowDetector("AAPL"))

    assert first == second


@given(st.integers(min_value=1, max_value=1_000_000), st.integers(min_value=1, max_value=300))
def test_constant_price_emits_nothing(cents: int, length: int) -> None:
    results = replay([(1_000, cents, 100)] * length, HighLowDetector("AAPL"))

    assert all(r is None for r in results)


@settings(max_examples=20)
@given(st.integers(min_value=0, max_value=2**32))
def test_state_stays_bounded_after_many_ticks(seed: int) -> None:
    detector = HighLowDetector("AAPL")
    rng = random.Random(seed)
    steps = [(rng.randint(0, 5_000), rng.randint(1, 1_000_000), rng.randint(0, 10**6)) for _ in range(2_000)]

    replay(steps, detector)

    assert detector.retained_items <= 20 + 3


@given(tick_steps)
def test_events_respect_cooldown_and_extremes_stay_ordered(steps: list[tuple[int, int, int]]) -> None:
    detector = HighLowDetector("AAPL")

    events = [e for e in replay(steps, detector) if e is not None]

    gaps_ns = [b.ts_ns - a.ts_ns for a, b in pairwise(events)]
    assert all(gap >= NS_PER_S for gap in gaps_ns)
    assert all(e.details.session_low <= e.details.session_high for e in events)
    assert all(not math.isnan(e.details.significance_score) for e in events)


@pytest.mark.parametrize("bad", [0.0, math.nan, math.inf])
def test_unusable_open_and_vwap_are_ignored(bad: float) -> None:
    results = run([(0, 100.00), (2, 100.10)], open_price=bad, vwap=bad)

    event = results[1]
    assert event is not None
    assert (event.details.previous_high, event.vwap, event.vwap_divergence) == (100.00, None, 0.0)
    assert event.percent_change == pytest.approx(0.1, abs=1e-9)
