"""Metric samples: what a component reports about itself, in plain values, for `metrics.py` to export.

A component is `Instrumented` when it has a `metric_samples()` method. It reads the counters it keeps
anyway, so reporting costs nothing on its hot path, and it needs no metrics library: the collector
turns the samples into Prometheus families at scrape time. Samples of one name form one family, so
two components may add series to the same metric (with the same help and kind).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class MetricKind(enum.Enum):
    """How Prometheus treats a metric."""

    COUNTER = "counter"
    """Only grows (from process start); exported with the suffix ``_total``."""
    GAUGE = "gauge"
    """A current value that may go up or down."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricSample:
    """One series' current value."""

    name: str
    """Metric name, e.g. "tickstock_ticks_processed" (a counter without its ``_total`` suffix)."""
    help: str
    """What the metric means; the same for every sample of the name."""
    kind: MetricKind
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)
    """Label values by label name; every sample of the name has the same label names."""


def counter(name: str, help: str, value: float, **labels: str) -> MetricSample:
    """A counter sample."""
    return MetricSample(name=name, help=help, kind=MetricKind.COUNTER, value=value, labels=labels)


def gauge(name: str, help: str, value: float, **labels: str) -> MetricSample:
    """A gauge sample."""
    return MetricSample(name=name, help=help, kind=MetricKind.GAUGE, value=value, labels=labels)


class Instrumented(Protocol):
    """A component that reports metric samples."""

    def metric_samples(self) -> Sequence[MetricSample]:
        """The component's samples now; called from the metrics server's thread, so only read."""
        ...
