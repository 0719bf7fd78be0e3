"""Histograms: observations in the first bucket whose bound holds them, exported cumulatively."""

from __future__ import annotations

import math

import pytest

from tickstock_server.support.histograms import LATENCY_BUCKETS_S, Histogram


def test_observations_are_counted_at_or_below_each_bound_cumulatively() -> None:
    histogram = Histogram((0.1, 1.0, 10.0))

    for value in (0.05, 0.1, 0.5, 20.0):
        histogram.observe(value)

    sample = histogram.sample("x_seconds", "help", method="m")
    assert sample.buckets == ((0.1, 2), (1.0, 3), (10.0, 3), (math.inf, 4))
    assert sample.value == pytest.approx(20.65)
    assert (histogram.count, dict(sample.labels)) == (4, {"method": "m"})


def test_an_empty_histogram_exports_zero_counts() -> None:
    sample = Histogram().sample("x_seconds", "help")

    assert [bound for bound, _ in sample.buckets] == [*LATENCY_BUCKETS_S, math.inf]
    assert {count for _, count in sample.buckets} == {0}


@pytest.mark.parametrize("bounds", [(), (1.0, 1.0), (2.0, 1.0), (1.0, math.inf), (math.nan,)])
def test_bounds_must_be_finite_and_increasing(bounds: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="increasing"):
        Histogram(bounds)
