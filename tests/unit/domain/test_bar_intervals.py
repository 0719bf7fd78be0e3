"""Bucketing one-minute bars into wider bars: clock-aligned minutes and hours, US/Eastern days."""

from __future__ import annotations

import pytest
from factories import NS_PER_S, ns_at

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.bar_intervals import BarInterval, bucket_start_ns, merge_into_buckets


@pytest.mark.parametrize(
    ("moment", "interval", "expected"),
    [
        ("2026-01-06T15:07:42", BarInterval.MINUTE_1, "2026-01-06T15:07:00"),
        ("2026-01-06T15:07:42", BarInterval.MINUTE_5, "2026-01-06T15:05:00"),
        ("2026-01-06T15:07:42", BarInterval.MINUTE_15, "2026-01-06T15:00:00"),
        ("2026-01-06T15:07:42", BarInterval.HOUR_1, "2026-01-06T15:00:00"),
        # Days are US/Eastern calendar days: midnight ET is 05:00 UTC in winter, 04:00 UTC in summer.
        ("2026-01-06T15:07:42", BarInterval.DAY_1, "2026-01-06T05:00:00"),
        ("2026-01-07T03:30:00", BarInterval.DAY_1, "2026-01-06T05:00:00"),  # 22:30 ET, still the 6th
        ("2026-07-06T15:07:42", BarInterval.DAY_1, "2026-07-06T04:00:00"),
    ],
)
def test_bucket_start_is_the_interval_boundary(moment: str, interval: BarInterval, expected: str) -> None:
    assert bucket_start_ns(ns_at(moment), interval) == ns_at(expected)


def _minute(offset_min: int, open_: float, high: float, low: float, close: float, volume: int) -> Bar:
    start_ns = ns_at("2026-01-06T15:00:00") + offset_min * 60 * NS_PER_S
    return Bar(
        symbol="AAPL", start_ns=start_ns, open=open_, high=high, low=low, close=close, volume=volume, ticks=1
    )


def test_minutes_merge_into_five_minute_bars_first_open_max_high_min_low_last_close_summed_volume() -> None:
    minutes = [
        _minute(0, 10.0, 11.0, 9.5, 10.5, 100),
        _minute(3, 10.5, 12.0, 10.0, 11.0, 50),
        _minute(5, 11.0, 11.2, 10.8, 11.1, 7),
    ]

    bars = merge_into_buckets(minutes, BarInterval.MINUTE_5)

    assert [(b.start_ns, b.open, b.high, b.low, b.close, b.volume, b.ticks) for b in bars] == [
        (ns_at("2026-01-06T15:00:00"), 10.0, 12.0, 9.5, 11.0, 150, 2),
        (ns_at("2026-01-06T15:05:00"), 11.0, 11.2, 10.8, 11.1, 7, 1),
    ]


def test_one_minute_interval_keeps_each_minute() -> None:
    minutes = [_minute(0, 1.0, 1.0, 1.0, 1.0, 1), _minute(1, 2.0, 2.0, 2.0, 2.0, 2)]

    assert merge_into_buckets(minutes, BarInterval.MINUTE_1) == minutes
