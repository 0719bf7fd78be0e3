"""Prometheus metrics, read from the components' own counters at scrape time (nothing on the hot path)."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from tickstock_server.support.metric_samples import Instrumented, MetricKind, MetricSample

__all__ = ["ServiceCollector", "start_metrics_server"]

_logger = logging.getLogger(__name__)

_Family = CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily

_FAMILIES: dict[MetricKind, type[_Family]] = {
    MetricKind.COUNTER: CounterMetricFamily,
    MetricKind.GAUGE: GaugeMetricFamily,
    MetricKind.HISTOGRAM: HistogramMetricFamily,
}


class ServiceCollector(Collector):
    """Collects the metric samples of the service's components when Prometheus scrapes.

    The components already count what matters; reading those counters at scrape time keeps metric
    updates off the 100k ticks/s path. Runs in the HTTP server's thread: the components only read
    integers and floats the event loop writes (and copy collections in one C call), which the GIL keeps
    consistent. Samples of one name, from any component, form one family.
    """

    def __init__(
        self, components: Sequence[Instrumented], *, constant_labels: Mapping[str, str] | None = None
    ) -> None:
        """Read these components, in this order.

        Args:
            components: What to read.
            constant_labels: Labels added to every series, e.g. ``{"role": "gateway"}`` to tell the
                processes of one deployment apart. No sample may carry a label of these names.
        """
        self._components = tuple(components)
        self._constant_labels = dict(constant_labels or {})

    def collect(self) -> Iterator[Metric]:
        """Yield every metric with its current value.

        Raises:
            ValueError: Two samples of one name disagree on help, kind or label names, or a sample has a
                label of a constant label's name (a bug).
        """
        families: dict[str, tuple[_Family, tuple[str, ...]]] = {}
        for component in self._components:
            for sample in component.metric_samples():
                if not self._constant_labels.keys().isdisjoint(sample.labels):
                    raise ValueError(f"samples of {sample.name} have a label the collector adds itself")
                labels = {**sample.labels, **self._constant_labels}
                label_names = tuple(sorted(labels))
                known = families.get(sample.name)
                if known is None:
                    family = _FAMILIES[sample.kind](sample.name, sample.help, labels=label_names)
                    families[sample.name] = (family, label_names)
                else:
                    family = known[0]
                    if (
                        family.documentation != sample.help
                        or family.type != sample.kind.value
                        or known[1] != label_names
                    ):
                        raise ValueError(f"samples of {sample.name} disagree on help, kind or labels")
                _add(family, [labels[name] for name in label_names], sample)
        for family, _ in families.values():
            yield family


def _add(family: _Family, label_values: list[str], sample: MetricSample) -> None:
    """Add one sample's series to its family."""
    if isinstance(family, HistogramMetricFamily):
        buckets = [("+Inf" if bound == math.inf else repr(bound), count) for bound, count in sample.buckets]
        family.add_metric(label_values, buckets, sample.value)
    else:
        family.add_metric(label_values, sample.value)


def start_metrics_server(
    host: str, port: int, collector: ServiceCollector
) -> tuple[WSGIServer, threading.Thread, int]:
    """Serve `/metrics` (the collector plus process CPU and memory) on a daemon thread.

    Returns:
        The HTTP server (call `shutdown()` to stop it), its thread and the bound port (useful with 0).
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    server, thread = start_http_server(port, addr=host, registry=registry)
    bound = int(server.server_port)
    _logger.info("metrics on http://%s:%d/metrics", host, bound)
    return server, thread, bound
