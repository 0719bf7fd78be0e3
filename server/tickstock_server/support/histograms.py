"""Histograms a component keeps itself: fixed buckets, one bisect and two additions per observation.

The `metric_samples` module describes how a component reports; these are the counts behind a histogram
sample. Observe once per batch or per call, never per tick or per event: an observation costs a few
hundred nanoseconds in CPython, which is nothing per batch and too much on a 100k ticks/s path.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate

from tickstock_server.support.metric_samples import MetricSample, histogram

__all__ = ["LATENCY_BUCKETS_S", "Histogram"]

LATENCY_BUCKETS_S = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
"""Upper bounds, in seconds, for latencies of calls and batches (+Inf follows): 100 us to 2.5 s."""


class Histogram:
    """Observations counted in fixed buckets, with their sum; read by the metrics thread at scrape time.

    The metrics thread may read while the event loop observes: a scrape can see an observation's
    bucket counted before its sum (the next scrape agrees again).
    """

    __slots__ = ("_bounds", "_counts", "sum")

    def __init__(self, bounds: Sequence[float] = LATENCY_BUCKETS_S) -> None:
        """Count in buckets with these upper bounds (increasing, finite; +Inf is added).

        Raises:
            ValueError: The bounds are empty, not increasing or not finite.
        """
        if not bounds or any(not math.isfinite(b) for b in bounds) or list(bounds) != sorted(set(bounds)):
            raise ValueError(f"bounds must be finite and increasing, not {bounds!r}")
        self._bounds = tuple(bounds)
        # Per bucket, not cumulative; the last counts observations above every bound.
        self._counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        """The sum of the observed values."""

    def observe(self, value: float) -> None:
        """Count one observation (in the first bucket whose bound is at least `value`)."""
        self._counts[bisect_left(self._bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        """Observations so far."""
        return sum(self._counts)

    def sample(self, name: str, help: str, **labels: str) -> MetricSample:
        """The histogram's sample: cumulative counts per bound, ending with +Inf."""
        bounds = (*self._bounds, math.inf)
        return histogram(
            name, help, list(zip(bounds, accumulate(list(self._counts)), strict=True)), self.sum, **labels
        )
