import dataclasses
import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import pytest
from factories import NS_PER_S, REGULAR_TS_NS, make_tick, ns_at

from tickstock_server.detection.price_bucket import PriceBucket, VolatilityClass
from tickstock_server.detection.trend import (
    DETECTOR_VERSION,
    TrendBucketConfig,
    TrendConfig,
    TrendDetector,
    TrendPeriodConfig,
)
from tickstock_server.detection.trend_config import resolve_thresholds
from tickstock_server.domain.events import (
    Direction,
    Event,
    EventType,
    MarketPeriod,
    MarketStatus,
    TrendStrength,
    TrendThresholds,
    VwapPosition,
)
from tickstock_server.domain.market_session import MarketClock

UP, DOWN = Direction.UP, Direction.DOWN
PRE_TS_NS = ns_at("2026-01-06T14:29:00")  # 09:29 ET, one minute before the regular open

Step = tuple[float, float, int, float | None]  # (seconds after the start, price, volume, vwap)

_ROW_FIELDS = {field.name for field in dataclasses.fields(TrendPeriodConfig)}


def flat_config(**overrides: Any) -> TrendConfig:
    """A small configuration whose thresholds read as written: one row for every period, no bucket
    caps, no volatility scaling. Defaults: windows 10/20/30 s, direction 0.01, moderate 0.02, strong
    0.04, emission every 10 s, retracement 50 %, 2 points per window, 5 s warm-up. Keyword arguments
    override row fields (seconds for `*_s` durations) or TrendConfig fields."""
    row: dict[str, Any] = {
        "direction_threshold": 0.01,
        "strength_threshold": 0.04,
        "sensitivity": 1.0,
        "emission_interval_ns": 10 * NS_PER_S,
        "retracement_threshold": 0.5,
        "min_points_per_window": 2,
        "warmup_ns": 5 * NS_PER_S,
        "emit_weak": True,
    }
    fields: dict[str, Any] = {
        "short_window_s": 10,
        "medium_window_s": 20,
        "long_window_s": 30,
        "buckets": tuple(
            (bucket, TrendBucketConfig(direction_threshold=1.0, strength_threshold=1.0))
            for bucket in PriceBucket
        ),
        "volatility_multipliers": tuple((volatility, 1.0) for volatility in VolatilityClass),
    }
    for name, value in overrides.items():
        if name in _ROW_FIELDS:
            row[name] = value
        else:
            fields[name] = value
    period_row = TrendPeriodConfig(**row)
    fields.setdefault("periods", tuple((period, period_row) for period in MarketPeriod))
    return TrendConfig(**fields)


def run(
    steps: Sequence[Step],
    *,
    config: TrendConfig | None = None,
    start_ns: int = REGULAR_TS_NS,
    detector: TrendDetector | None = None,
    **tick: Any,
) -> list[tuple[float, Event | None, Direction | None, float]]:
    """Feed a detector one tick per step; return (seconds, event, direction, score) after each tick."""
    detector = detector if detector is not None else TrendDetector("AAPL", config)
    clock = MarketClock()
    results = []
    for offset_s, price, volume, vwap in steps:
        ts_ns = start_ns + round(offset_s * NS_PER_S)
        event = detector.update(
            make_tick(price=price, volume=volume, vwap=vwap, ts_ns=ts_ns, **tick), clock.session_at(ts_ns)
        )
        results.append((offset_s, event, detector.direction, detector.score))
    return results


def events_of(results: list[tuple[float, Event | None, Direction | None, float]]) -> list[Event]:
    return [event for _, event, _, _ in results if event is not None]


def rising(seconds: int, *, start: float = 100.0, step: float = 0.1, volume: int = 0) -> list[Step]:
    """One tick per second, the price rising by `step` each second."""
    return [(t, round(start + step * t, 6), volume, None) for t in range(seconds)]


# --- Window scores: golden values --------------------------------------------------------------
#
# Windows short 2 s, medium 3 s, long 5 s; one point per window suffices; no warm-up. Three ticks at
# seconds 0, 1 and 2: the evaluation at second 2 sees points 0, 1 (committed) and 2 (the tick itself).
# The medium and long windows hold all three points, the short window only seconds 1 and 2. Decay 0.9:
# the decayed weighted mean of x0, x1, x2 is (0.81 x0 + 0.9 x1 + x2) / 2.71, of x0, x1 (0.9 x0 + x1) / 1.9.
GOLDEN = flat_config(
    short_window_s=2, medium_window_s=3, long_window_s=5, min_points_per_window=1, warmup_ns=0
)

# Prices 100, 100.1, 100.3 (changes 0.1, 0.2); VWAP 100 (ratios 0, 0.001, 0.003); volumes 100, 200, 300.
RISE: list[Step] = [(0, 100.0, 100, 100.0), (1, 100.1, 200, 100.0), (2, 100.3, 300, 100.0)]
# 3 points: price_c = [(0.9*0.1 + 0.2) / 1.9] / (mean 300.4/3 * 0.01)
RISE3_PRICE = (0.29 / 1.9) / (300.4 / 3 * 0.01)
# vwap_c = 5 * (0.9*0.001 + 0.003) / 2.71 + 10 * (0.9*0.001 + 0.002) / 1.9   (ratio changes 0.001, 0.002)
RISE3_VWAP = 5 * 0.0039 / 2.71 + 10 * 0.0029 / 1.9
# vol_c: mean volume 200, flows +200/200 and +300/200: (0.9*1 + 1.5) / 1.9 / 3
RISE3_VOLUME = (2.4 / 1.9) / 3
# 2 points (short): price_c = 0.2 / (200.4/2 * 0.01); vwap_c = 5 * (0.9*0.001 + 0.003) / 1.9 + 10 * 0.002;
# vol_c = 0 (only two points with volume)
RISE2_PRICE = 0.2 / (200.4 / 2 * 0.01)
RISE2_VWAP = 5 * 0.0039 / 1.9 + 10 * 0.002
RISE_SHORT = 0.5 * RISE2_PRICE + 0.3 * RISE2_VWAP
RISE_LONG = 0.5 * RISE3_PRICE + 0.3 * RISE3_VWAP + 0.2 * RISE3_VOLUME

# The same prices falling: 100.3, 100.1, 100 (changes -0.2, -0.1), no VWAP, no volume.
FALL: list[Step] = [(0, 100.3, 0, None), (1, 100.1, 0, None), (2, 100.0, 0, None)]
FALL_SHORT = 0.5 * (-0.1 / (200.1 / 2 * 0.01))  # price only
FALL_LONG = 0.5 * ((0.9 * -0.2 - 0.1) / 1.9 / (300.4 / 3 * 0.01))


@pytest.mark.parametrize(
    ("steps", "short", "long"),
    [(RISE, RISE_SHORT, RISE_LONG), (FALL, FALL_SHORT, FALL_LONG)],
    ids=["rise-with-vwap-and-volume", "fall-price-only"],
)
def test_window_scores_match_hand_computed_values(steps: list[Step], short: float, long: float) -> None:
    detector = TrendDetector("AAPL", GOLDEN)

    run(steps, detector=detector)

    assert detector.window_scores == pytest.approx((short, long, long), abs=1e-12)
    assert detector.score == pytest.approx(0.3 * short + 0.4 * long + 0.3 * long, abs=1e-12)


def test_golden_components_have_the_expected_magnitudes() -> None:
    # A readable cross-check of the constants above.
    components = (RISE3_PRICE, RISE3_VWAP, RISE3_VOLUME)
    combined = 0.3 * RISE_SHORT + 0.7 * RISE_LONG

    assert components == pytest.approx((0.152428, 0.022459, 0.421053), abs=1e-6)
    assert combined == pytest.approx(0.149677, abs=1e-6)


@pytest.mark.parametrize(
    ("direction_threshold", "strength_threshold", "direction", "strength"),
    [
        (0.2, 0.3, None, None),  # 0.1497 is inside +-0.2: neutral
        (0.1, 0.3, UP, TrendStrength.WEAK),  # above 0.1 but not above 2 x 0.1
        (0.05, 0.3, UP, TrendStrength.MODERATE),  # above 2 x 0.05
        (0.05, 0.14, UP, TrendStrength.STRONG),  # above the strength threshold
    ],
)
def test_combined_score_is_classified_against_the_thresholds(
    direction_threshold: float,
    strength_threshold: float,
    direction: Direction | None,
    strength: TrendStrength | None,
) -> None:
    config = dataclasses.replace(
        GOLDEN,
        periods=tuple(
            (
                period,
                dataclasses.replace(
                    row, direction_threshold=direction_threshold, strength_threshold=strength_threshold
                ),
            )
            for period, row in GOLDEN.periods
        ),
    )

    results = run(RISE, config=config)

    _, event, detected, score = results[-1]
    assert score == pytest.approx(0.149677, abs=1e-6)
    assert detected is direction
    assert (event.details.strength if event is not None else None) is strength


def test_weak_trend_is_not_emitted_when_the_period_does_not_emit_weak_trends() -> None:
    config = flat_config(
        short_window_s=2,
        medium_window_s=3,
        long_window_s=5,
        min_points_per_window=1,
        warmup_ns=0,
        direction_threshold=0.1,
        strength_threshold=0.3,
        emit_weak=False,
    )

    results = run(RISE, config=config)

    assert [(direction, event) for _, event, direction, _ in results] == [
        (None, None),
        (None, None),
        (UP, None),
    ]


# --- Thresholds --------------------------------------------------------------------------------


def test_midday_150_dollar_normal_volatility_thresholds_match_the_worked_example() -> None:
    # min(0.025, 0.015) * 1.0 * 1.5 = 0.0225; min(0.05, 0.035) * 1.0 * 1.5 = 0.0525; moderate 2 x 0.0225
    resolved = resolve_thresholds(TrendConfig())[MarketPeriod.MIDDAY]

    thresholds = resolved.by_bucket[PriceBucket.MID][VolatilityClass.NORMAL]

    assert (thresholds.direction_threshold, thresholds.strength_threshold) == (0.0225, 0.0525)
    assert thresholds.moderate_threshold == pytest.approx(0.045, abs=1e-12)
    assert (resolved.min_age_s, resolved.row.min_points_per_window) == (90, 8)


def test_midday_150_dollar_trend_event_reports_the_worked_example_thresholds() -> None:
    # Default configuration, 10:00 ET: +0.05 $/s from $148 with steady volume. At the first evaluation
    # (90 s warm-up) the 300 s price window holds 148.00..152.50: CV = 4.5 / sqrt(12) / 150.25 = 0.86 %,
    # NORMAL. Score about 0.5 * 0.033 (price) + 0.2 * 0.33 (volume) = 0.083 > 0.0525: strong.
    steps = [(t, round(148.0 + 0.05 * t, 2), 1_000, None) for t in range(120)]

    events = events_of(run(steps))

    first = events[0]
    assert (first.ts_ns - REGULAR_TS_NS, first.market_period, first.label) == (
        90 * NS_PER_S,
        MarketPeriod.MIDDAY,
        "TREND ↑ strong",
    )
    assert first.details.thresholds == TrendThresholds(
        direction_threshold=0.0225,
        strength_threshold=0.0525,
        volatility_multiplier=1.0,
        emission_interval_ns=90 * NS_PER_S,
        min_points_per_window=8,
    )


@pytest.mark.parametrize(
    ("amplitude", "multiplier"),
    [(0.2, 1.3), (1.0, 1.0), (5.0, 0.7)],
    ids=["low", "normal", "high"],
)
def test_volatility_of_recent_prices_scales_the_thresholds(amplitude: float, multiplier: float) -> None:
    # A rise with a +-amplitude zig-zag around $100: CV about amplitude % (low < 0.5 % < normal < 2 % < high).
    multipliers = ((VolatilityClass.HIGH, 0.7), (VolatilityClass.NORMAL, 1.0), (VolatilityClass.LOW, 1.3))
    config = flat_config(
        volatility_multipliers=multipliers, direction_threshold=0.001, strength_threshold=0.002
    )
    steps = [(t, 100.0 + 0.01 * t + (amplitude if t % 2 else -amplitude), 100, None) for t in range(40)]

    events = events_of(run(steps, config=config))

    thresholds = events[0].details.thresholds
    assert thresholds.volatility_multiplier == multiplier
    assert thresholds.direction_threshold == pytest.approx(0.001 * multiplier, abs=1e-12)


# --- Emission ----------------------------------------------------------------------------------


def test_steady_trend_emits_first_then_once_per_emission_interval() -> None:
    # +0.1 %/s scores about 0.5 * 0.1 = 0.05 > 0.04 (strong). Warm-up ends at second 5 (6 points, 5 s old);
    # the 10 s interval suppresses seconds 6-14 and 16-24.
    events = events_of(run(rising(30), config=flat_config()))

    assert [(e.ts_ns - REGULAR_TS_NS) // NS_PER_S for e in events] == [5, 15, 25]
    assert [(e.count, e.count_up, e.count_down, e.reversal) for e in events] == [
        (1, 1, 0, False),
        (2, 2, 0, False),
        (3, 3, 0, False),
    ]
    assert [e.details.age_ns for e in events] == [0, 10 * NS_PER_S, 20 * NS_PER_S]
    assert {e.label for e in events} == {"TREND ↑ strong"}


def test_direction_change_emits_at_once_as_a_reversal() -> None:
    rise = rising(30)
    fall = [(t, round(102.9 - 0.1 * (t - 29), 6), 0, None) for t in range(30, 60)]

    results = run(rise + fall, config=flat_config())

    first_down = next(t for t, _, direction, _ in results if direction is DOWN)
    down_events = [e for e in events_of(results) if e.direction is DOWN]
    assert (down_events[0].ts_ns - REGULAR_TS_NS) // NS_PER_S == first_down
    assert (down_events[0].reversal, down_events[0].count_down, down_events[0].details.age_ns) == (True, 1, 0)
    assert down_events[0].label.startswith("TREND ↓ ")


def test_weakening_trend_retraces_and_is_not_re_emitted() -> None:
    # Rise until second 19, then flat. At second 25 the score is about 0.020: still above the direction
    # threshold 0.01, but below half (retracement 0.5) of the peak 0.050 since the emission at 15.
    steps = [(t, round(100.0 + 0.1 * min(t, 19), 6), 0, None) for t in range(40)]

    results = run(steps, config=flat_config())

    assert [(e.ts_ns - REGULAR_TS_NS) // NS_PER_S for e in events_of(results)] == [5, 15]
    _, event, direction, score = results[25]
    assert (event, direction) == (None, None)
    assert 0.01 < score <= 0.5 * 0.05


def test_strengthening_trend_is_never_a_retracement() -> None:
    # Accelerating rise: the score grows by more than 10 % per second at first, which the original's
    # |dscore / previous| >= retracement rule treated as a retracement. Here the trend stays up.
    steps = [(t, round(100.0 + 0.01 * t * t, 6), 0, None) for t in range(30)]
    config = flat_config(retracement_threshold=0.1)

    results = run(steps, config=config)

    scores = [score for t, _, _, score in results if t >= 5]
    assert all(later > earlier for earlier, later in pairwise(scores))
    assert scores[1] > 1.1 * scores[0]
    assert {direction for t, _, direction, _ in results if t >= 5} == {UP}
    assert [(e.ts_ns - REGULAR_TS_NS) // NS_PER_S for e in events_of(results)] == [5, 15, 25]


# --- VWAP --------------------------------------------------------------------------------------


@pytest.mark.parametrize("vwap", [None, 0.0, math.nan, math.inf])
def test_missing_vwap_never_raises_and_has_no_position(vwap: float | None) -> None:
    steps = [(t, price, volume, vwap) for t, price, volume, _ in rising(10)]

    event = events_of(run(steps, config=flat_config()))[0]

    assert (event.vwap, event.vwap_divergence, event.details.vwap_position) == (None, 0.0, None)


@pytest.mark.parametrize(("vwap_offset", "position"), [(0.0, VwapPosition.ABOVE), (1.0, VwapPosition.BELOW)])
def test_vwap_position_compares_price_with_the_tick_vwap(vwap_offset: float, position: VwapPosition) -> None:
    steps = [(t, price, volume, price + vwap_offset) for t, price, volume, _ in rising(10)]

    event = events_of(run(steps, config=flat_config()))[0]

    assert event.details.vwap_position is position
    assert event.vwap_divergence == pytest.approx(-vwap_offset / (event.price + vwap_offset) * 100, abs=1e-12)


# --- Warm-up -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("spacing_s", "first_s"), [(1, 5), (2, 10)], ids=["age-gate", "points-gate"])
def test_no_evaluation_before_warm_up(spacing_s: int, first_s: int) -> None:
    # Warm-up: 3 x 2 points in the long window, the oldest at least 5 s old.
    steps = [(t, round(100.0 + 0.1 * t, 6), 0, None) for t in range(0, 20, spacing_s)]

    results = run(steps, config=flat_config())

    assert next(t for t, _, direction, _ in results if direction is not None) == first_s
    assert all(score == 0.0 for t, _, _, score in results if t < first_s)
    assert (events_of(results)[0].ts_ns - REGULAR_TS_NS) // NS_PER_S == first_s


def test_gap_longer_than_the_long_window_restarts_warm_up() -> None:
    before = rising(20)
    after = [(t, round(102.0 + 0.1 * (t - 60), 6), 0, None) for t in range(60, 75)]

    results = run(before + after, config=flat_config())

    assert [direction for t, _, direction, _ in results if 60 <= t < 65] == [None] * 5
    assert [(e.ts_ns - REGULAR_TS_NS) // NS_PER_S for e in events_of(results)] == [5, 15, 65]


# --- Session and event fields ------------------------------------------------------------------


def test_session_change_resets_counts_but_keeps_the_windows() -> None:
    # 09:29:00 ET pre-market, rising through the 09:30 open: the regular session needs no new warm-up,
    # and its first event restarts the counts.
    events = events_of(run(rising(90), config=flat_config(), start_ns=PRE_TS_NS))

    regular = [e for e in events if e.market_status is MarketStatus.REGULAR]
    pre = [e for e in events if e.market_status is MarketStatus.PRE]
    assert [e.count for e in pre] == [1, 2, 3, 4, 5, 6]
    assert [(e.count, e.count_up) for e in regular[:2]] == [(1, 1), (2, 2)]
    assert (regular[0].ts_ns - PRE_TS_NS) // NS_PER_S == 65  # 10 s after the last pre-market event at 55


def test_event_carries_identity_prices_and_volumes() -> None:
    steps = [(t, price, 100, price - 0.5) for t, price, _, _ in rising(5)] + [(5, 100.5, 300, 100.0)]

    event = events_of(run(steps, config=flat_config(), open_price=99.0))[0]

    ts_ns = REGULAR_TS_NS + 5 * NS_PER_S
    assert (event.event_id, event.symbol, event.type, event.ts_ns) == (
        f"AAPL:trend:{ts_ns}:1",
        "AAPL",
        EventType.TREND,
        ts_ns,
    )
    assert (event.detector_version, event.config_hash) == (DETECTOR_VERSION, flat_config().config_hash)
    assert (event.market_status, event.market_period, event.volume) == (
        MarketStatus.REGULAR,
        MarketPeriod.MIDDAY,
        300,
    )
    # percent change against the official open; mean point volume of the long window (5 x 100 + 300) / 6
    assert event.percent_change == pytest.approx((100.5 - 99.0) / 99.0 * 100, abs=1e-12)
    assert event.relative_volume == pytest.approx(300 / (800 / 6), abs=1e-12)
    assert (event.vwap, event.vwap_divergence) == (100.0, pytest.approx(0.5, abs=1e-12))
    details = event.details
    assert details.score == pytest.approx(
        0.3 * details.short_score + 0.4 * details.medium_score + 0.3 * details.long_score, abs=1e-12
    )


def test_percent_change_outside_regular_hours_uses_the_first_price_of_the_session() -> None:
    events = events_of(run(rising(10), config=flat_config(), start_ns=ns_at("2026-01-06T13:00:00")))

    assert events[0].market_status is MarketStatus.PRE
    assert events[0].percent_change == pytest.approx((100.5 - 100.0) / 100.0 * 100, abs=1e-12)


def test_periods_follow_eastern_time_across_the_spring_forward() -> None:
    # 14:15 UTC is 09:15 EST on Friday 2026-03-06 (pre-market) but 10:15 EDT on Monday 2026-03-09
    # (midday), after the 2026-03-08 switch. Default configuration, $100, +0.05 $/s with volume.
    steps = [(t, round(100.0 + 0.05 * t, 2), 1_000, None) for t in range(240)]
    friday = events_of(run(steps, start_ns=ns_at("2026-03-06T14:15:00")))
    monday = events_of(run(steps, start_ns=ns_at("2026-03-09T14:15:00")))

    assert (friday[0].market_status, friday[0].market_period) == (MarketStatus.PRE, MarketPeriod.PREMARKET)
    assert (monday[0].market_status, monday[0].market_period) == (MarketStatus.REGULAR, MarketPeriod.MIDDAY)
    # Pre-market warms up for 180 s and re-emits every 120 s; midday 90 s and 90 s.
    assert [(e.ts_ns - friday[0].ts_ns) // NS_PER_S for e in friday] == [0]
    assert (friday[0].ts_ns - ns_at("2026-03-06T14:15:00")) // NS_PER_S == 180
    assert (monday[0].ts_ns - ns_at("2026-03-09T14:15:00")) // NS_PER_S == 90
    assert [e.details.thresholds.emission_interval_ns // NS_PER_S for e in (friday[0], monday[0])] == [
        120,
        90,
    ]


def test_reset_forgets_points_and_emissions() -> None:
    detector = TrendDetector("AAPL", flat_config())
    run(rising(10), detector=detector)

    detector.reset()

    assert (detector.direction, detector.score, detector.retained_items) == (None, 0.0, 0)
    events = events_of(run(rising(10), detector=detector))
    assert [(e.count, e.reversal, e.details.age_ns) for e in events] == [(1, False, 0)]


# --- Configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"short_window_s": 0},
        {"short_window_s": 40},
        {"decay": 0.0},
        {"decay": 1.0},
        {"min_volume_points": 1},
        {"periods": TrendConfig().periods[:-1]},  # no CLOSED row
        {"retracement_tiers": ((1.0, 1.0),)},
        {"min_points_per_window": 11},  # 3 x 11 points cannot fit a 30 s long window
        {"warmup_ns": 30 * NS_PER_S},  # the oldest point of a 30 s window is at most 29 s old
        {"retracement_threshold": 1.0},
    ],
)
def test_invalid_config_raises_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        flat_config(**kwargs)


def test_config_hash_is_stable_and_tracks_fields() -> None:
    assert TrendConfig().config_hash == TrendConfig().config_hash
    assert TrendConfig().config_hash != TrendConfig(decay=0.8).config_hash
    assert len(TrendConfig().config_hash) == 16
