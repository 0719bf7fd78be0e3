"""Metric samples: what a component reports about itself, in plain values, for `metrics.py` to export.

A component is `Instrumented` when it has a `metric_samples()` method. It reads the counters it keeps
anyway, so reporting costs nothing on its hot path, and it needs no metrics library: the collector
turns the samples into Prometheus families at scrape time. Samples of one name form one family, so
two components may add series to the same metric (with the same help and kind).

A histogram sample carries its cumulative bucket counts and the sum of what it observed; the component
keeps the (non-cumulative) counts itself and accumulates them when asked.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Protocol


class MetricKind(enum.Enum):
    """How Prometheus treats a metric."""

    COUNTER = "counter"
    """Only grows (from process start); exported with the suffix ``_total``."""
    GAUGE = "gauge"
    """A current value that may go up or down."""
    HISTOGRAM = "histogram"
    """Observations counted in buckets (from process start); exported as ``_bucket``, ``_count``, ``_sum``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricSample:
    """One series' current value."""

    name: str
    """Metric name, e.g. "tickstock_ticks_processed" (a counter without its ``_total`` suffix)."""
    help: str
    """What the metric means; the same for every sample of the name."""
    kind: MetricKind
    value: float
    """The counter's or gauge's value; for a histogram the sum of the observed values."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Label values by label name; every sample of the name has the same label names."""
    buckets: tuple[tuple[float, float], ...] = ()
    """A histogram's (upper bound, observations at or below it) pairs, cumulative, ending with +Inf;
    empty for other kinds."""


def counter(name: str, help: str, value: float, **labels: str) -> MetricSample:
    """A counter sample."""
    return MetricSample(name=name, help=help, kind=MetricKind.COUNTER, value=value, labels=labels)


def counters_by_reason(name: str, help: str, counts: Mapping[str, float]) -> list[MetricSample]:
    """One counter sample per reason of `counts`, labelled ``reason``, in reason order."""
    return [counter(name, help, count, reason=reason) for reason, count in sorted(counts.items())]


def gauge(name: str, help: str, value: float, **labels: str) -> MetricSample:
    """A gauge sample."""
    return MetricSample(name=name, help=help, kind=MetricKind.GAUGE, value=value, labels=labels)


def histogram(
    name: str, help: str, buckets: Sequence[tuple[float, float]], sum_value: float, **labels: str
) -> MetricSample:
    """A histogram sample.

    Args:
        name: Metric name, e.g. "tickstock_gc_pause_seconds" (without the ``_bucket`` suffix).
        help: What the metric means.
        buckets: (upper bound, observations at or below it) pairs: bounds increasing, the last +Inf (its
            count is the number of observations), counts cumulative.
        sum_value: The sum of the observed values.
        labels: Label values by label name (not ``le``, which the buckets use).

    Raises:
        ValueError: The buckets are not in that form.
    """
    bounds = [bound for bound, _ in buckets]
    counts = [count for _, count in buckets]
    if (
        not buckets
        or bounds[-1] != math.inf
        or any(low >= high for low, high in pairwise(bounds))
        or any(low > high for low, high in pairwise(counts))
    ):
        raise ValueError(f"{name}: buckets must have increasing bounds up to +Inf and cumulative counts")
    return MetricSample(
        name=name,
        help=help,
        kind=MetricKind.HISTOGRAM,
        value=sum_value,
        labels=labels,
        buckets=tuple(buckets),
    )


class Instrumented(Protocol):
    """A component that reports metric samples."""

    def metric_samples(self) -> Sequence[MetricSample]:
        """The component's samples now; called from the metrics server's thread, so only read."""
        ...
