"""Surge gates: minimum moves, single-condition rejections, cooldowns, caps, sessions, reset, config."""

from typing import Any

import pytest
from factories import NS_PER_S, REGULAR_TS_NS, ns_at
from surge_steps import (
    MIDDAY,
    OPENING,
    P_AND_V,
    PRE_TS_NS,
    Step,
    details,
    feed,
    outcome,
    run,
    steady,
    with_row,
    zigzag,
)

from tickstock_server.detection.price_bucket import PriceBucket
from tickstock_server.detection.surge import SurgeConfig, SurgeDetector
from tickstock_server.detection.surge_config import SurgeBandConfig
from tickstock_server.domain.events import (
    Direction,
    MarketPeriod,
    MarketStatus,
    SurgeMode,
    SurgeTrigger,
)
from tickstock_server.domain.market_session import MarketClock

# --- gates and cooldowns ---


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


# --- sessions reset and config ---


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
