"""Prometheus metrics, read from the components' own counters at scrape time (nothing on the hot path)."""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from tickstock_server.support.metric_samples import Instrumented, MetricKind, MetricSample

__all__ = ["HealthChecks", "ServiceCollector", "start_metrics_server"]

_logger = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
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


HealthChecks = Mapping[str, Callable[[], bool]]
"""Named checks of a process's dependencies, each True while that one is healthy."""


def start_metrics_server(
    host: str, port: int, collector: ServiceCollector, health: HealthChecks | None = None
) -> tuple[WSGIServer, threading.Thread, int]:
    """Serve `/metrics` (the collector plus process CPU and memory) and `/health` on a daemon thread.

    `/health` answers 200 with ``{"status": "SERVING", "checks": {...}}`` while every check of `health`
    is true, else 503 with ``"NOT_SERVING"`` and the failing checks false: the health of a process
    that serves no gRPC (the ingest role), and per role of the others.

    Returns:
        The HTTP server (call `shutdown()` to stop it), its thread and the bound port (useful with 0).
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    _Server.address_family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    app = _with_health(make_wsgi_app(registry), health or {})
    server = make_server(host, port, app, _Server, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    bound = int(server.server_port)
    _logger.info("metrics on http://%s:%d/metrics, health on /health", host, bound)
    return server, thread, bound


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Requests are not logged (scrapes come every few seconds)."""


def _with_health(metrics: WsgiApp, health: HealthChecks) -> WsgiApp:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/health":
            return metrics(environ, start_response)
        checks = {name: bool(check()) for name, check in health.items()}
        serving = all(checks.values())
        body = json.dumps({"status": "SERVING" if serving else "NOT_SERVING", "checks": checks}).encode()
        status = "200 OK" if serving else "503 Service Unavailable"
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return app
