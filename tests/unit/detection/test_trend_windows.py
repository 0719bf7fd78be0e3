import dataclasses
import math
import random
import statistics
from itertools import pairwise
from typing import Any

import pytest
from factories import NS_PER_S, REGULAR_TS_NS, make_tick, ns_at
from hypothesis import given, settings
from hypothesis import strategies as st

from tickstock_server.detection.price_bucket import VolatilityClass, volatility_class
from tickstock_server.detection.trend import TrendConfig, TrendDetector
from tickstock_server.detection.trend_windows import TrendWindows
from tickstock_server.domain.events import Event, MarketPeriod
from tickstock_server.domain.market_session import MarketClock

Point = tuple[int, float, int, float | None]  # (second, price, volume, vwap)


def uniform_config(*, min_points: int, warmup_s: int, **fields: Any) -> TrendConfig:
    """The MIDDAY row, with these gates, for every period (the reference below knows no periods)."""
    row = dataclasses.replace(
        dict(TrendConfig().periods)[MarketPeriod.MIDDAY],
        min_points_per_window=min_points,
        warmup_ns=warmup_s * NS_PER_S,
    )
    return TrendConfig(periods=tuple((period, row) for period in MarketPeriod), **fields)


# Small windows so that random sequences fill, slide and empty them; the 8 s long window and 6 s
# volatility window also make the point list compact (every 32 expired points) and re-anchor its price
# totals (every 64 expired points).
SMALL = uniform_config(
    min_points=1, warmup_s=2, short_window_s=3, medium_window_s=5, long_window_s=8, volatility_window_s=6
)
MULTIPLIERS = dict(TrendConfig().volatility_multipliers)


# --- The naive reference: every window recomputed from scratch, straight from the specification ---

SAME_SECOND = "same second"
WARMING_UP = "warming up"


def weighted_mean(values: list[float], decay: float) -> float:
    m = len(values)
    weights = [decay ** (m - 1 - i) for i in range(m)]
    return sum(w * x for w, x in zip(weights, values, strict=True)) / sum(weights)


def clamp(value: float) -> float:
    return max(-1.0, min(1.0, value))


def reference_window_score(points: list[tuple[int, float, int, float | None]], config: TrendConfig) -> float:
    decay = config.decay
    prices = [price for _, price, _, _ in points]
    volumes = [volume for _, _, volume, _ in points]
    price_c = vwap_c = volume_c = 0.0
    if len(points) >= 2:
        changes = [b - a for a, b in pairwise(prices)]
        price_c = clamp(weighted_mean(changes, decay) / (statistics.fmean(prices) * 0.01))
        mean_volume = statistics.fmean(volumes)
        if sum(v > 0 for v in volumes) >= 3 and mean_volume > 0:
            flows = [
                math.copysign(1, c) * v / mean_volume if c else 0.0
                for c, v in zip(changes, volumes[1:], strict=True)
            ]
            volume_c = clamp(weighted_mean(flows, decay) / 3)
    ratios = [(price - vwap) / vwap for _, price, _, vwap in points if vwap is not None]
    if len(ratios) >= 2:
        ratio_changes = [b - a for a, b in pairwise(ratios)]
        vwap_c = clamp(5 * weighted_mean(ratios, decay) + 10 * weighted_mean(ratio_changes, decay))
    return 0.5 * price_c + 0.3 * vwap_c + 0.2 * volume_c


class ReferenceTrend:
    """Folds ticks into one-second points and scores each new second naively (one period row)."""

    def __init__(self, config: TrendConfig) -> None:
        self.config = config
        self.row = config.periods[0][1]
        self.points: list[tuple[int, float, int, float | None]] = []  # committed, then the open point

    def feed(self, ts_ns: int, price: float, volume: int, vwap: float | None) -> Any:
        second = ts_ns // NS_PER_S
        if self.points and self.points[-1][0] == second:
            _, _, open_volume, open_vwap = self.points[-1]
            self.points[-1] = (second, price, open_volume + volume, vwap if vwap is not None else open_vwap)
            return SAME_SECOND
        self.points.append((second, price, volume, vwap))
        config = self.config
        self.points = [
            p for p in self.points if p[0] > second - max(config.long_window_s, config.volatility_window_s)
        ]
        windows = [
            [p for p in self.points if p[0] > second - span]
            for span in (config.short_window_s, config.medium_window_s, config.long_window_s)
        ]
        min_points = self.row.min_points_per_window
        long = windows[2]
        if len(long) < 3 * min_points or (second - long[0][0]) * NS_PER_S < self.row.warmup_ns:
            return WARMING_UP
        scores = tuple(
            reference_window_score(window, config) if len(window) >= min_points else 0.0 for window in windows
        )
        volatility_prices = [p[1] for p in self.points if p[0] > second - config.volatility_window_s]
        coefficient = (
            statistics.pstdev(volatility_prices) / statistics.fmean(volatility_prices)
            if len(volatility_prices) >= 2
            else None
        )
        return scores, coefficient


# Steps: (ms since the previous tick, price change in cents, volume, VWAP offset in cents or None).
# Gaps of 0-999 ms put several ticks in one second; gaps up to 40 s outlast every window of SMALL.
tick_steps = st.lists(
    st.tuples(
        st.one_of(st.integers(min_value=0, max_value=1_500), st.integers(min_value=0, max_value=40_000)),
        st.integers(min_value=-40, max_value=40),
        st.one_of(st.just(0), st.integers(min_value=0, max_value=5_000)),
        st.one_of(st.none(), st.integers(min_value=-300, max_value=300)),
    ),
    max_size=300,
)


def ticks_of(steps: list[tuple[int, int, int, int | None]]) -> list[Any]:
    ts_ns = REGULAR_TS_NS
    cents = 10_000
    ticks = []
    for gap_ms, change_cents, volume, vwap_offset in steps:
        ts_ns += gap_ms * 1_000_000
        cents = max(100, cents + change_cents)
        vwap = None if vwap_offset is None else max(1, cents + vwap_offset) / 100
        ticks.append(make_tick(price=cents / 100, volume=volume, vwap=vwap, ts_ns=ts_ns))
    return ticks


# --- The detector's incremental scores equal the reference -------------------------------------


@settings(max_examples=150, deadline=None)
@given(tick_steps)
def test_incremental_scores_equal_the_naive_reference(steps: list[tuple[int, int, int, int | None]]) -> None:
    detector = TrendDetector("AAPL", SMALL)
    reference = ReferenceTrend(SMALL)
    clock = MarketClock()

    for tick in ticks_of(steps):
        event = detector.update(tick, clock.session_at(tick.ts_ns))
        expected = reference.feed(tick.ts_ns, tick.price, tick.volume, tick.vwap)
        if expected == SAME_SECOND:
            assert event is None
            continue
        if expected == WARMING_UP:
            assert (event, detector.direction, detector.window_scores) == (None, None, (0.0, 0.0, 0.0))
            continue
        scores, coefficient = expected
        assert detector.window_scores == pytest.approx(scores, abs=1e-9, rel=0)
        if event is not None:
            volatility = VolatilityClass.NORMAL if coefficient is None else volatility_class(coefficient)
            assert event.details.thresholds.volatility_multiplier == MULTIPLIERS[volatility]


@pytest.mark.parametrize("ticks_per_second", [1, 3])
def test_steady_feed_scores_equal_the_naive_reference_at_every_second(ticks_per_second: int) -> None:
    # 600 s of a random walk: windows stay full while the point list compacts and re-anchors its price
    # totals many times (SMALL re-anchors every 64 expired points).
    rng = random.Random(ticks_per_second)
    detector = TrendDetector("AAPL", SMALL)
    reference = ReferenceTrend(SMALL)
    clock = MarketClock()
    cents = 10_000
    compared = 0
    for index in range(600 * ticks_per_second):
        ts_ns = REGULAR_TS_NS + index * NS_PER_S // ticks_per_second
        cents = max(100, cents + rng.randint(-25, 25))
        vwap = (cents + rng.randint(-50, 50)) / 100 if index % 5 else None
        tick = make_tick(price=cents / 100, volume=rng.randint(0, 500), vwap=vwap, ts_ns=ts_ns)
        detector.update(tick, clock.session_at(ts_ns))
        expected = reference.feed(ts_ns, tick.price, tick.volume, tick.vwap)
        if expected not in (SAME_SECOND, WARMING_UP):
            assert detector.window_scores == pytest.approx(expected[0], abs=1e-9, rel=0)
            compared += 1

    assert compared == 600 - 2  # every second after the 2 s warm-up


def test_long_run_scores_do_not_drift_from_the_naive_reference() -> None:
    # 30,000 s of one tick per second, a random walk of 0.4 % per second (bounded to $5-$500) with
    # volumes up to 2 million: any accumulated rounding in the running sums would show here.
    rng = random.Random(3)
    config = uniform_config(min_points=8, warmup_s=90)  # the default windows
    detector = TrendDetector("AAPL", config)
    reference = ReferenceTrend(config)
    clock = MarketClock()
    price = 50.0
    start_ns = ns_at("2026-01-06T15:00:00")
    expected: Any = None
    for t in range(30_000):
        price = min(500.0, max(5.0, price * math.exp(rng.gauss(0.0, 0.004))))
        vwap = price * (1 + rng.gauss(0.0, 0.002)) if t % 7 else None
        ts_ns = start_ns + t * NS_PER_S
        tick = make_tick(price=price, volume=rng.randint(0, 2_000_000), vwap=vwap, ts_ns=ts_ns)
        detector.update(tick, clock.session_at(ts_ns))
        if t >= 29_990:
            expected = reference.feed(ts_ns, tick.price, tick.volume, tick.vwap)
        else:
            reference.points.append((ts_ns // NS_PER_S, tick.price, tick.volume, tick.vwap))

    scores, _ = expected
    assert detector.window_scores == pytest.approx(scores, abs=1e-9, rel=0)


# --- Other properties of the detector ----------------------------------------------------------


def replay(ticks: list[Any], detector: TrendDetector) -> list[Event | None]:
    clock = MarketClock()
    return [detector.update(tick, clock.session_at(tick.ts_ns)) for tick in ticks]


@given(tick_steps)
def test_same_ticks_give_same_events(steps: list[tuple[int, int, int, int | None]]) -> None:
    ticks = ticks_of(steps)

    first = replay(ticks, TrendDetector("AAPL", SMALL))
    second = replay(ticks, TrendDetector("AAPL", SMALL))

    assert first == second


@settings(max_examples=50, deadline=None)
@given(
    st.integers(min_value=1, max_value=100_000_000),
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=3_000), st.integers(min_value=0, max_value=10**6)),
        max_size=400,
    ),
    st.booleans(),
    st.sampled_from([None, SMALL]),
)
def test_constant_price_emits_nothing(
    cents: int, gaps: list[tuple[int, int]], with_vwap: bool, config: TrendConfig | None
) -> None:
    price = cents / 100
    steps = [(gap_ms, 0, volume, 0 if with_vwap else None) for gap_ms, volume in gaps]
    ticks = [
        dataclasses.replace(tick, price=price, vwap=price if with_vwap else None) for tick in ticks_of(steps)
    ]

    results = replay(ticks, TrendDetector("AAPL", config))

    assert all(result is None for result in results)


@settings(max_examples=10, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.sampled_from([0.5, 1.0, 20.0]))
def test_retained_points_stay_bounded_whatever_the_tick_rate(seed: int, ticks_per_second: float) -> None:
    rng = random.Random(seed)
    detector = TrendDetector("AAPL")
    clock = MarketClock()
    ts_ns = REGULAR_TS_NS
    price = 100.0
    most = 0
    for _ in range(int(1_500 * ticks_per_second)):
        ts_ns += int(rng.expovariate(ticks_per_second) * NS_PER_S) + 1
        price = max(1.0, price + rng.gauss(0.0, 0.05))
        detector.update(
            make_tick(price=price, volume=rng.randint(0, 1_000), ts_ns=ts_ns), clock.session_at(ts_ns)
        )
        most = max(most, detector.retained_items)

    assert most <= 600 + 32 + 1  # long window + one compaction batch + the open point


# --- TrendWindows directly ---------------------------------------------------------------------


def random_walk(seed: int, seconds: int) -> list[Point]:
    """One point per second; the price wanders between $5 and $500, volumes up to 2 million."""
    rng = random.Random(seed)
    price = 50.0
    points = []
    for second in range(seconds):
        price = min(500.0, max(5.0, price * math.exp(rng.gauss(0.0, 0.004))))
        vwap = price * (1 + rng.gauss(0.0, 0.002)) if second % 7 else None
        points.append((second, price, rng.randint(0, 2_000_000), vwap))
    return points


def feed(windows: TrendWindows, points: list[Point]) -> tuple[float, float, float, float | None] | None:
    """Commit every point but the last, then evaluate with the last one as the current point."""
    result = None
    previous: Point | None = None
    for point in points:
        second, price, volume, vwap = point
        ratio = (price - vwap) / vwap if vwap is not None else None
        result = windows.advance(previous, second, price, volume, ratio, 1, 0)
        previous = point
    return result


def test_long_run_equals_a_fresh_instance_fed_only_the_held_points() -> None:
    # 40,000 s: the running sums have been compacted, re-anchored and pushed through 40,000 decays.
    # A fresh instance given only the last long window (plus one point, whose change the window does
    # not see) must agree to 1e-9: no rounding error survives from the history.
    points = random_walk(seed=5, seconds=40_000)
    config = TrendConfig()

    long_run = feed(TrendWindows(config), points)
    fresh = feed(TrendWindows(config), points[-(config.long_window_s + 1) :])

    assert long_run is not None and fresh is not None
    assert long_run[:3] == pytest.approx(fresh[:3], abs=1e-9, rel=0)
    assert long_run[3] == pytest.approx(fresh[3], rel=1e-9)


def test_points_before_a_gap_longer_than_every_window_are_forgotten() -> None:
    config = TrendConfig()
    before = random_walk(seed=1, seconds=700)
    after = [
        (second + 2_000, price, volume, vwap)
        for second, price, volume, vwap in random_walk(seed=2, seconds=100)
    ]

    with_history = feed(TrendWindows(config), before + after)
    without_history = feed(TrendWindows(config), after)

    assert with_history is not None and without_history is not None
    assert with_history[:3] == pytest.approx(without_history[:3], abs=1e-12, rel=0)


def test_first_point_after_a_long_gap_is_warming_up() -> None:
    windows = TrendWindows(TrendConfig())
    feed(windows, random_walk(seed=1, seconds=100))

    result = windows.advance((99, 50.0, 10, None), 5_000, 50.0, 10, None, 1, 0)

    assert result is None  # the long window holds only the current point: fewer than 3 x 1
    assert windows.held_points <= 1


def test_held_points_stay_within_the_long_window_plus_one_compaction_batch() -> None:
    config = TrendConfig()
    windows = TrendWindows(config)
    most = 0
    previous: Point | None = None
    for point in random_walk(seed=4, seconds=3_000):
        windows.advance(previous, point[0], point[1], point[2], None, 8, 90)
        previous = point
        most = max(most, windows.held_points)

    assert config.long_window_s <= most <= config.long_window_s + 32


def test_without_vwap_the_vwap_component_is_zero() -> None:
    # Three points, prices 100, 100.1, 100.3 and no volume: only the price component scores.
    # 0.5 * [(0.9*0.1 + 0.2) / 1.9] / (300.4/3 * 0.01) in every window (all hold the three points).
    windows = TrendWindows(TrendConfig())

    result = feed(windows, [(0, 100.0, 0, None), (1, 100.1, 0, None), (2, 100.3, 0, None)])

    assert result is not None
    expected = 0.5 * (0.29 / 1.9) / (300.4 / 3 * 0.01)
    assert result[:3] == pytest.approx((expected, expected, expected), abs=1e-12)
