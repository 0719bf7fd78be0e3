import dataclasses
import math
import random
from typing import Any

import pytest
from factories import NS_PER_S, REGULAR_TS_NS, make_tick, ns_at
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tickstock_server.detection.price_bucket import PriceBucket
from tickstock_server.detection.surge import DETECTOR_VERSION, SurgeConfig, SurgeDetector
from tickstock_server.detection.surge_config import SurgeBandConfig, resolve_thresholds
from tickstock_server.domain.events import (
    Direction,
    Event,
    EventType,
    MarketPeriod,
    MarketStatus,
    SurgeDetails,
    SurgeMode,
    SurgeStrength,
    SurgeThresholds,
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
    assert surge == SurgeDetails(
        magnitude=pytest.approx(2.0, abs=1e-9),  # (153 - 150) / 150 x 100
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
@pytest.mark.parametrize(("price", "emits"), [(61.20, False), (61.50, True)])
def test_move_below_band_minimum_dollars_is_rejected(price: float, emits: bool) -> None:
    # $60 MID in MIDDAY: +2.0 % >= 1.6 % and $1.20 >= $0.60 pass the conditions, but the MID band's
    # quality gate needs a $1.50 move.
    results = run([*zigzag(40, 60.00, 60.90), (40, price, 400)])

    assert outcome(results) == (P_AND_V if emits else None)


@pytest.mark.parametrize(
    ("require_combined_trigger", "expected"), [(True, None), (False, SurgeTrigger.PRICE)]
)
def test_midday_rejects_single_condition_triggers(
    require_combined_trigger: bool, expected: SurgeTrigger | None
) -> None:
    # MIDDAY switched to OR (the original's SURGE_DETECTION_MODE_MIDDAY) without a score minimum.
    config = with_row(
        MIDDAY, mode=SurgeMode.OR, min_score=0.0, require_combined_trigger=require_combined_trigger
    )

    results = run([*zigzag(40, 150.00, 152.25), (40, 153.00, 100)], config=config)

    assert outcome(results) == expected


@pytest.mark.parametrize(("low_volatility_min_percent", "emits"), [(3.5, False), (None, True)])
def test_low_volatility_midday_needs_three_and_a_half_percent(
    low_volatility_min_percent: float | None, emits: bool
) -> None:
    # 30 points at 150 and the current 153: mean 150.097, sample sd 0.539, CV 0.36 % < 0.5 %: LOW,
    # so the threshold is 1.6 x 1.2 = 1.92 % and +2.0 % passes it, but not the 3.5 % LOW-volatility gate.
    config = with_row(MIDDAY, low_volatility_min_percent=low_volatility_min_percent)

    results = run([*steady(40, 150.00), (40, 153.00, 400)], config=config)

    assert outcome(results) == (P_AND_V if emits else None)
    assert [details(r).thresholds.min_percent_change for r in results if r is not None] == (
        [1.92] if emits else []
    )


def spikes(seconds: int, at: list[int], price: float = 150.00, spike_price: float = 157.50) -> list[Step]:
    """A steady 1 tick/s history with one-second 5 % spikes at 10x volume."""
    return [(float(s), spike_price, 1_000) if s in at else (float(s), price, 100) for s in range(seconds)]


@pytest.mark.parametrize(("second_spike_s", "emits"), [(219, False), (220, True)])
def test_quality_cooldown_separates_surges(second_spike_s: int, emits: bool) -> None:
    # MIDDAY: max(180 s quality cooldown, 2 x 20 s) = 180 s after the surge at 40 s.
    results = run(spikes(second_spike_s + 1, [40, second_spike_s]))

    assert [i for i, r in enumerate(results) if r is not None] == ([40, second_spike_s] if emits else [40])


@pytest.mark.parametrize(("second_spike_s", "emits"), [(79, False), (80, True)])
def test_base_cooldown_applies_when_longer(second_spike_s: int, emits: bool) -> None:
    # A 10 s quality cooldown is shorter than the base cooldown of 2 x 20 s = 40 s.
    config = with_row(MIDDAY, quality_cooldown_ns=10 * NS_PER_S)

    results = run(spikes(second_spike_s + 1, [40, second_spike_s]), config=config)

    assert [i for i, r in enumerate(results) if r is not None] == ([40, second_spike_s] if emits else [40])


def test_surges_are_capped_per_rolling_thirty_minutes() -> None:
    # MIDDAY allows 3 per 1800 s: the fourth (640 s) is rejected; at 1840 s the first has left the window.
    at = [40, 240, 440, 640, 1840]

    results = run(spikes(1841, at))

    events = [r for r in results if r is not None]
    assert [(e.ts_ns - REGULAR_TS_NS) // NS_PER_S for e in events] == [40, 240, 440, 1840]
    assert [details(e).daily_count for e in events] == [1, 2, 3, 4]
    assert events[-1].event_id == f"AAPL:surge:{REGULAR_TS_NS + 1840 * NS_PER_S}:4"


def test_active_direction_lasts_until_expiry() -> None:
    detector = SurgeDetector("AAPL")
    ts_ns = REGULAR_TS_NS + 40 * NS_PER_S

    before = detector.active_direction(REGULAR_TS_NS)
    results = feed(detector, spikes(41, [40], spike_price=142.50))

    assert results[-1] is not None
    assert before is None
    assert detector.active_direction(ts_ns) is Direction.DOWN
    assert detector.active_direction(ts_ns + 30 * NS_PER_S - 1) is Direction.DOWN
    assert detector.active_direction(ts_ns + 30 * NS_PER_S) is None


def test_session_change_resets_count_and_cooldown_but_keeps_points() -> None:
    # A pre-market surge at 09:29:40 ET, then the regular session opens at 09:30:00. The opening surge
    # at 09:30:02 needs the pre-market points (4 minimum, 5 s old baseline) and comes 22 s after the
    # previous surge, inside any cooldown: both only work because points stay and counts reset.
    steps = spikes(124, [100, 122])

    results = run(steps, start_ns=PRE_TS_NS, open_price=149.00)

    events = [r for r in results if r is not None]
    assert [(e.market_status, e.market_period) for e in events] == [
        (MarketStatus.PRE, MarketPeriod.PREMARKET),
        (MarketStatus.REGULAR, OPENING),
    ]
    assert [(e.count, e.count_up, details(e).daily_count) for e in events] == [(1, 1, 1), (1, 1, 1)]
    assert events[1].event_id == f"AAPL:surge:{PRE_TS_NS + 122 * NS_PER_S}:1"
    # Session change: the first pre-market price (150), then the regular session's official open (149).
    assert [e.percent_change for e in events] == [
        pytest.approx(5.0, abs=1e-9),
        pytest.approx((157.50 - 149.00) / 149.00 * 100, abs=1e-9),
    ]


@pytest.mark.parametrize(
    ("start_utc", "period", "emits"),
    [
        ("2026-03-06T14:34:20", OPENING, False),  # Friday, EST: 09:34:20 ET, 5 s baseline
        ("2026-03-09T14:34:20", MIDDAY, True),  # Monday after spring-forward, EDT: 10:34:20 ET, 20 s
    ],
)
def test_period_and_interval_follow_eastern_time_across_dst(
    start_utc: str, period: MarketPeriod, emits: bool
) -> None:
    # The price steps from 150 to 157.50 at second 30 on normal volume, then volume spikes at second
    # 40. A 5 s baseline (second 35) already has the new price; a 20 s one (second 20) has the old one.
    start_ns = ns_at(start_utc)
    steps = [*steady(30, 150.00), *steady(10, 157.50, start=30), (40, 157.50, 1_000)]

    results = run(steps, start_ns=start_ns)

    assert MarketClock().session_at(start_ns + 40 * NS_PER_S).period is period
    assert outcome(results) == (P_AND_V if emits else None)
    assert [
        (r.market_period, details(r).thresholds.baseline_interval_ns) for r in results if r is not None
    ] == ([(MIDDAY, 20 * NS_PER_S)] if emits else [])


def test_reset_forgets_points_and_session() -> None:
    detector = SurgeDetector("AAPL")
    feed(detector, spikes(41, [40]))

    detector.reset()

    assert (detector.retained_items, detector.daily_count, detector.active_direction(REGULAR_TS_NS)) == (
        0,
        0,
        None,
    )
    assert feed(detector, [(50, 157.50, 1_000)]) == [None]


def test_config_hash_is_short_hex_and_tracks_fields() -> None:
    default = SurgeConfig()

    assert len(default.config_hash) == 16
    assert int(default.config_hash, 16) >= 0
    assert SurgeConfig(history_s=120).config_hash == default.config_hash
    assert with_row(MIDDAY, min_score=70.0).config_hash != default.config_hash


@pytest.mark.parametrize(
    "kwargs",
    [
        {"periods": SurgeConfig().periods[:-1]},
        {"bands": ((PriceBucket.MID, SurgeBandConfig(percent=4.0, dollar=1.5, min_move=1.5)),)},
        {"history_s": 10},  # MIDDAY's 20 s interval and the 8 points must fit in the history
        {"volume_floor": 1.5},
        {"volume_compensation": 0.5},
        {"up_multiplier": 0.0},
        {"moderate_score": 90.0},
    ],
)
def test_invalid_config_raises_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SurgeConfig(**kwargs)


# Property tests: hypothesis draws tick sequences of one symbol in any market period.
STARTS_NS = [PRE_TS_NS, OPENING_TS_NS, REGULAR_TS_NS, ns_at("2026-01-06T20:30:00"), AFTER_TS_NS, CLOSED_TS_NS]

tick_steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3_000),  # milliseconds since the previous tick
        st.one_of(st.integers(-30, 30), st.integers(-800, 800)),  # price change, basis points: drift or jump
        st.one_of(st.integers(0, 300), st.integers(0, 20_000)),  # volume: normal or spiking
    ),
    max_size=250,
)


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


@settings(max_examples=300)  # about 2 events per example: every trigger shows up
@given(tick_steps, st.sampled_from(STARTS_NS))
def test_every_event_is_consistent_with_its_trigger_and_thresholds(
    steps: list[tuple[int, int, int]], start_ns: int
) -> None:
    events = [e for e in replay(steps, SurgeDetector("AAPL", PERMISSIVE), start_ns) if e is not None]
    assume(events)  # an example without events checks nothing: hypothesis draws another

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
