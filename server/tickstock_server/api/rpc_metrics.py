"""RPC metrics: every call timed by method and status code, and the streams open, for one interceptor.

A unary call is one latency, `tickstock_rpc_duration_seconds{method,code}`. A stream is two facts that
one latency would blur: how long its first message took (`tickstock_rpc_stream_first_message_seconds`,
the time a subscriber waits for a snapshot, a replay or its first batch) and how long it lasted and how
it ended (`tickstock_rpc_stream_duration_seconds{method,code}`). Streams open now are
`tickstock_rpc_streams_open{method}`.

The request-context interceptor (`api/interceptors.py`), which times and logs every call anyway, records
them here, so the metrics add no wrapping layer (no extra frame per streamed message). Labels stay
bounded: `method` is the full name of a method of a registered service, or "unknown" (the server answers
UNIMPLEMENTED); `code` is a `grpc.StatusCode` name. A call costs a clock reading and one histogram
observation (a stream two), nothing per streamed message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import grpc

from tickstock_server.support.histograms import Histogram
from tickstock_server.support.metric_samples import MetricSample, gauge

__all__ = ["UNKNOWN_METHOD", "RpcMetrics", "final_code"]

UNKNOWN_METHOD = "unknown"
"""The `method` label of calls to a method no registered service has."""

_K = TypeVar("_K")

_DURATION_HELP = "Time to answer a unary call, by method and status code."
_FIRST_HELP = "Time from a stream's start to its first message, by method (streams that sent one)."
_STREAM_HELP = "How long a stream lasted, by method and the status code it ended with."
_OPEN_HELP = "Streams open now, by method."


class RpcMetrics:
    """What the request-context interceptor (`api/interceptors.py`) records of every call; `Instrumented`.

    The code is the call's own (`context.code()`, set by an abort or by the servicer), OK when the call
    returned without one, CANCELLED when it was cancelled (the client left or the server stops), and
    UNKNOWN when an exception escaped (gRPC answers UNKNOWN then).
    """

    def __init__(self, methods: Iterable[str], *, clock_s: Callable[[], float] = time.perf_counter) -> None:
        """Label calls of `methods` (full names, "/package.Service/Method") by name, others "unknown".

        Args:
            methods: Every method a registered service serves.
            clock_s: A monotonic clock in seconds; the interceptor passes its readings back as `started_s`.
        """
        self._methods = frozenset(methods)
        self.clock_s = clock_s
        # Keyed by the code itself: its name is read at scrape time, off the call's path.
        self._durations: dict[tuple[str, grpc.StatusCode], Histogram] = {}
        self._stream_durations: dict[tuple[str, grpc.StatusCode], Histogram] = {}
        self._first_messages: dict[str, Histogram] = {}
        self._open: dict[str, int] = {}

    def label(self, method: str) -> str:
        """The `method` label of calls to `method`."""
        return method if method in self._methods else UNKNOWN_METHOD

    def unary_ended(self, label: str, code: grpc.StatusCode, started_s: float) -> None:
        """A unary call (or a call to an unknown method) started at `started_s` ended with `code`."""
        self._observe(self._durations, (label, code), started_s)

    def stream_started(self, label: str) -> None:
        """A stream started: it counts as open until `stream_ended`."""
        self._open[label] = self._open.get(label, 0) + 1

    def first_message(self, label: str, started_s: float) -> None:
        """A stream started at `started_s` sends its first message."""
        self._observe(self._first_messages, label, started_s)

    def stream_ended(self, label: str, code: grpc.StatusCode, started_s: float) -> None:
        """A stream started at `started_s` ended with `code`."""
        self._open[label] -= 1
        self._observe(self._stream_durations, (label, code), started_s)

    def metric_samples(self) -> list[MetricSample]:
        """Unary latencies, first-message times and stream durations, and the streams open now."""
        samples = [
            histogram.sample("tickstock_rpc_duration_seconds", _DURATION_HELP, method=method, code=code.name)
            for (method, code), histogram in list(self._durations.items())
        ]
        samples += [
            histogram.sample("tickstock_rpc_stream_first_message_seconds", _FIRST_HELP, method=method)
            for method, histogram in list(self._first_messages.items())
        ]
        samples += [
            histogram.sample(
                "tickstock_rpc_stream_duration_seconds", _STREAM_HELP, method=method, code=code.name
            )
            for (method, code), histogram in list(self._stream_durations.items())
        ]
        samples += [
            gauge("tickstock_rpc_streams_open", _OPEN_HELP, count, method=method)
            for method, count in list(self._open.items())
        ]
        return samples

    def _observe(self, histograms: dict[_K, Histogram], key: _K, started_s: float) -> None:
        histogram = histograms.get(key)
        if histogram is None:
            histogram = histograms[key] = Histogram()
        histogram.observe(self.clock_s() - started_s)


def final_code(code: object, *, returned: bool, cancelled: bool) -> grpc.StatusCode:
    """The code a call ended with: `code` (the context's) when set, else by how the behaviour ended."""
    if isinstance(code, grpc.StatusCode):
        return code
    if returned:
        return grpc.StatusCode.OK
    return grpc.StatusCode.CANCELLED if cancelled else grpc.StatusCode.UNKNOWN
