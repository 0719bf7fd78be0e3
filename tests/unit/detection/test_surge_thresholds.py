"""Surge thresholds: period, band and volatility tables, direction multipliers, worked examples,
OR and ADAPTIVE modes, the baseline and warm-up."""

import pytest
from factories import NS_PER_S, REGULAR_TS_NS
from surge_steps import (
    AFTER_TS_NS,
    CLOSED,
    CLOSED_TS_NS,
    MIDDAY,
    OPENING,
    P_AND_V,
    details,
    outcome,
    run,
    steady,
    surge_of,
    with_row,
    zigzag,
)

from tickstock_server.detection.price_bucket import PriceBucket
from tickstock_server.detection.surge import DETECTOR_VERSION, SurgeConfig
from tickstock_server.detection.surge_config import resolve_thresholds
from tickstock_server.domain.events import (
    Direction,
    EventType,
    MarketPeriod,
    MarketStatus,
    SurgeDetails,
    SurgeMode,
    SurgeStrength,
    SurgeThresholds,
    SurgeTrigger,
)

# --- thresholds and modes ---


@pytest.mark.parametrize(
    ("period", "bucket", "volatility", "percent", "dollar", "volume", "interval_s", "min_move", "cooldown_s"),
    [
        # The worked example: min(4.0, 4.0) x 1.0 x 0.4 = 1.6 %; 1.50 x 0.4 = $0.60; max(180, 2 x 20) s.
        (MIDDAY, PriceBucket.MID, "normal", 1.6, 0.6, 3.0, 20, 1.5, 180),
        # min(4.5, 4.0) x 1.0 x 0.7 = 2.8 %; 1.50 x 0.7 = $1.05; gate $1.50 x 0.7; max(45, 2 x 5).
        (OPENING, PriceBucket.MID, "normal", 2.8, 1.05, 3.0, 5, 1.05, 45),
        # min(3.5, 5.0) x 0.8 x 0.9 = 2.52 %; 0.75 x 0.9 = $0.675; max(60, 2 x 2).
        (MarketPeriod.CLOSING, PriceBucket.LOW, "high", 2.52, 0.675, 2.5, 2, 0.5, 60),
        # min(1.0, 8.0) x 1.2 x 1.5 = 1.8 %; 0.15 x 1.5 = $0.225.
        (MarketPeriod.AFTERHOURS, PriceBucket.PENNY, "low", 1.8, 0.225, 1.0, 15, 0.1, 120),
        # min(1.25, 2.0) x 1.0 x 1.3 = 1.625 %; 5.00 x 1.3 = $6.50.
        (MarketPeriod.PREMARKET, PriceBucket.ULTRA, "normal", 1.625, 6.5, 1.2, 12, 5.0, 120),
        # min(4.0, 3.0) x 1.2 x 0.4 = 1.44 %; 3.00 x 0.4 = $1.20.
        (MIDDAY, PriceBucket.HIGH, "low", 1.44, 1.2, 3.0, 20, 3.0, 180),
        # CLOSED: the band % alone x 1.0 x 1.0 = 3.0 %; $3.00; code fallbacks 1.3x, 5 s, 90 s.
        (CLOSED, PriceBucket.HIGH, "normal", 3.0, 3.0, 1.3, 5, 3.0, 90),
    ],
)
def test_resolved_thresholds_follow_period_band_and_volatility_tables(
    period: MarketPeriod,
    bucket: PriceBucket,
    volatility: str,
    percent: float,
    dollar: float,
    volume: float,
    interval_s: int,
    min_move: float,
    cooldown_s: int,
) -> None:
    resolved_period = resolve_thresholds(SurgeConfig())[period]
    band = resolved_period.bands[bucket]
    resolved = getattr(band, volatility)

    assert (resolved.percent_up, resolved.percent_down, resolved.dollar) == (percent, percent, dollar)
    assert resolved.thresholds_up == SurgeThresholds(
        min_percent_change=percent,
        min_price_change=dollar,
        min_volume_multiplier=volume,
        mode=resolved_period.row.mode,
        baseline_interval_ns=interval_s * NS_PER_S,
    )
    assert (band.min_move, resolved_period.cooldown_ns) == (min_move, cooldown_s * NS_PER_S)


def test_direction_multipliers_scale_only_the_percent_threshold() -> None:
    config = SurgeConfig(up_multiplier=1.5, down_multiplier=0.5)

    normal = resolve_thresholds(config)[MIDDAY].bands[PriceBucket.MID].normal

    # 1.6 % x 1.5 and x 0.5; the dollar threshold stays 0.60.
    assert (normal.percent_up, normal.percent_down, normal.dollar) == (2.4, 0.8, 0.6)
    assert (normal.thresholds_up.min_percent_change, normal.thresholds_down.min_percent_change) == (2.4, 0.8)


# MIDDAY, $150, NORMAL volatility: 1.6 %, $0.60, 3.0x. History: 150.00 / 152.25 zigzag for 40 s at
# 100 shares/s; at second 40 the baseline is the point of second 20 (40 - 20), 150.00.
@pytest.mark.parametrize(
    ("price", "volume", "expected"),
    [
        (153.00, 400, P_AND_V),  # +2.0 %, $3.00, 4.0x
        (152.40, 400, P_AND_V),  # +1.6 % exactly ($2.40 passes the $1.50 gate)
        (152.39, 400, None),  # +1.593 %
        (153.00, 300, P_AND_V),  # 3.0x exactly
        (153.00, 299, None),  # 2.99x
        (153.00, 200, None),  # STRICT: price alone is not enough
        (151.50, 400, None),  # STRICT: volume alone (+1.0 %) is not enough
        (147.60, 400, P_AND_V),  # -1.6 %
    ],
)
def test_midday_worked_example_strict_needs_price_and_volume(
    price: float, volume: int, expected: SurgeTrigger | None
) -> None:
    results = run([*zigzag(40, 150.00, 152.25), (40, price, volume)])

    assert outcome(results) == expected


def test_midday_surge_event_carries_every_field() -> None:
    ts_ns = REGULAR_TS_NS + 40 * NS_PER_S

    results = run([*zigzag(40, 150.00, 152.25), (40, 153.00, 400)], vwap=150.00)

    surge = surge_of(results)
    event = results[-1]
    assert event is not None
    # The compiled build's dataclasses take only floats in float fields, so the approximate
    # magnitude is compared on its own.
    assert surge.magnitude == pytest.approx(2.0, abs=1e-9)  # (153 - 150) / 150 x 100
    assert surge == SurgeDetails(
        magnitude=surge.magnitude,
        score=100.0,  # min(2.0 / 1.6 x 50, 50) + min(4.0 / 3.0 x 50, 50)
        strength=SurgeStrength.STRONG,
        trigger=P_AND_V,
        volume_multiplier=4.0,  # 400 / mean 100
        baseline_price=150.00,
        expire_ns=ts_ns + 30 * NS_PER_S,
        daily_count=1,
        description="up price & volume",
        thresholds=SurgeThresholds(
            min_percent_change=1.6,
            min_price_change=0.6,
            min_volume_multiplier=3.0,
            mode=SurgeMode.STRICT,
            baseline_interval_ns=20 * NS_PER_S,
        ),
    )
    assert (event.event_id, event.symbol, event.type, event.direction) == (
        f"AAPL:surge:{ts_ns}:1",
        "AAPL",
        EventType.SURGE,
        Direction.UP,
    )
    assert (event.price, event.ts_ns, event.market_status, event.market_period) == (
        153.00,
        ts_ns,
        MarketStatus.REGULAR,
        MIDDAY,
    )
    assert (event.count, event.count_up, event.count_down, event.label) == (1, 1, 0, "↑ price & volume")
    assert (event.volume, event.relative_volume, event.vwap) == (400, 4.0, 150.00)
    assert event.percent_change == pytest.approx(2.0, abs=1e-9)  # against the session's first price, 150
    assert event.vwap_divergence == pytest.approx(2.0, abs=1e-9)  # (153 - 150) / 150 x 100
    assert (event.detector_version, event.config_hash) == (DETECTOR_VERSION, SurgeConfig().config_hash)


# CLOSED (Saturday), OR mode, $150: 4.0 % (band), $1.50, 1.3x, minimum score 60. Baseline at second 41
# is second 36 (41 - 5), 150.00.
@pytest.mark.parametrize(
    ("price", "volume", "expected", "score"),
    [
        (156.00, 200, P_AND_V, 100.0),  # +4.0 %, 2.0x
        (153.00, 200, SurgeTrigger.VOLUME, 75.0),  # 2.0 / 4.0 x 50 = 25, + 50 for 2.0x >= 1.3x
        (156.00, 100, None, None),  # price alone scores 50 < 60: the score gate rejects it
    ],
)
def test_or_mode_takes_either_condition(
    price: float, volume: int, expected: SurgeTrigger | None, score: float | None
) -> None:
    results = run([*zigzag(41, 150.00, 152.25), (41, price, volume)], start_ns=CLOSED_TS_NS)

    assert outcome(results) == expected
    assert [details(r).score for r in results if r is not None] == (
        [] if score is None else [pytest.approx(score)]
    )


def test_or_mode_price_alone_passes_a_lower_minimum_score() -> None:
    config = with_row(CLOSED, min_score=50.0)

    results = run([*zigzag(41, 150.00, 152.25), (41, 156.00, 100)], start_ns=CLOSED_TS_NS, config=config)

    surge = surge_of(results)
    assert (surge.trigger, surge.score, surge.strength) == (
        SurgeTrigger.PRICE,
        pytest.approx(50.0),  # min(4.0 / 4.0 x 50, 50), no volume score
        SurgeStrength.WEAK,
    )
    assert results[-1] is not None and results[-1].label == "↑ price"


# AFTERHOURS, ADAPTIVE, $100: 1.5 %, $2.25, 1.0x, minimum score 45. History: 100.00 / 101.50 zigzag;
# at second 41 the baseline is second 26 (41 - 15), 100.00; mean volume 100.
@pytest.mark.parametrize(
    ("price", "volume", "expected", "score", "label"),
    [
        # $3.50 >= 1.5 x $2.25 and 3.5 % >= 1.5 x 1.5 %, volume 0.8x >= 0.7 x 1.0x: price-led; 50 + 0.
        (103.50, 80, SurgeTrigger.PRICE_DRIVEN, 50.0, "↑ price-led"),
        (96.50, 80, SurgeTrigger.PRICE_DRIVEN, 50.0, "↓ price-led"),
        (103.50, 60, None, None, None),  # 0.6x < 0.7x
        (103.00, 80, None, None, None),  # $3.00 < $3.375
        # 2.5x >= 2 x 1.0x, and $2.00 >= 0.5 x $2.25 (but < $2.25): volume-led; 50 + 50.
        (102.00, 250, SurgeTrigger.VOLUME_DRIVEN, 100.0, "↑ volume-led"),
        (102.00, 150, None, None, None),  # 1.5x < 2.0x
        (103.50, 150, P_AND_V, 100.0, "↑ price & volume"),
    ],
)
def test_adaptive_mode_lets_one_strong_condition_compensate(
    price: float, volume: int, expected: SurgeTrigger | None, score: float | None, label: str | None
) -> None:
    results = run([*zigzag(41, 100.00, 101.50), (41, price, volume)], start_ns=AFTER_TS_NS)

    assert outcome(results) == expected
    assert [(r.label, details(r).score) for r in results if r is not None] == (
        [] if label is None else [(label, pytest.approx(score))]
    )


# --- baseline warm-up and history ---


@pytest.mark.parametrize(
    ("skipped_second", "baseline"),
    [
        (None, 100.10),  # second 10 (30 - 20) exists
        (10, 100.09),  # no tick in second 10: the newest point at least 20 s old is second 9
    ],
)
def test_baseline_is_newest_point_at_least_interval_old(skipped_second: int | None, baseline: float) -> None:
    history = [(float(s), round(100.00 + 0.01 * s, 2), 100) for s in range(30) if s != skipped_second]

    results = run([*history, (30, 106.00, 1_000)])

    surge = surge_of(results)
    assert surge.baseline_price == baseline
    assert surge.magnitude == pytest.approx((106.00 - baseline) / baseline * 100, abs=1e-9)


def test_baseline_falls_back_to_oldest_point_when_none_is_interval_old() -> None:
    # Nine points (seconds 0-8) satisfy the warm-up of 8, but none is 20 s old at second 9.
    history = [(float(s), round(100.00 + 0.01 * s, 2), 100) for s in range(9)]

    results = run([*history, (9, 106.00, 1_000)])

    assert surge_of(results).baseline_price == 100.00


@pytest.mark.parametrize(("history_s", "emits"), [(7, False), (8, True)])
def test_warm_up_needs_min_points_committed_points(history_s: int, emits: bool) -> None:
    # MIDDAY needs 8 committed points; the current second's point is still open.
    results = run([*steady(history_s, 150.00), (history_s, 157.50, 1_000)])

    assert outcome(results) == (P_AND_V if emits else None)


def test_points_older_than_history_are_evicted() -> None:
    # After a 170 s silence the 30 points are all older than 120 s: the buffer warms up again.
    results = run([*steady(30, 150.00), (200, 157.50, 1_000)])

    assert results[-1] is None


def test_surge_between_original_sampling_instants_is_detected() -> None:
    # Four ticks per second (400 shares/s); a 0.5 s spike at 31.25 s. The original sampled once per
    # 20 s interval (0, 20, 40 s) and never saw it. Volume of second 31: 100 + 1500 = 4.0x 400.
    steps = [(i / 4, 150.00, 100) for i in range(125)]  # 0 to 31.0 s
    steps += [(31.25, 157.50, 1_500), (31.5, 150.00, 100), (31.75, 150.00, 100), (40.0, 150.00, 100)]

    results = run(steps)

    events = [(i, r) for i, r in enumerate(results) if r is not None]
    assert [(i, details(r).baseline_price, r.price) for i, r in events] == [(125, 150.00, 157.50)]


# Quality gates.
