"""What the metrics cost where they run: per tick batch, per RPC, and per scrape.

Usage: .venv/bin/python bench/metrics_cost.py [--rounds 200000] [--subscribers 1000]

A micro-benchmark, for a machine too busy to measure `bench/fanout.py` before and after with any
confidence: it times the pieces the metrics add, each alone, on the best of five runs.

- `histogram_observe`: one `Histogram.observe` (a bisect and two additions).
- `detection_latency_per_batch`: what the pipeline adds per tick batch (two clock readings and an
  observation); divided by a batch size for its share per tick.
- `rpc_metrics_unary`: what the request-context interceptor adds per unary call to record it in
  `RpcMetrics` (a clock reading, the final code, an observation).
- `rpc_metrics_stream`: the same per stream (opened, first message, ended); nothing per message.
- `hub_scrape`: `SubscriptionHub.metric_samples()` with `--subscribers` subscriptions: the queue depths
  are read at scrape time on the metrics thread, which holds the GIL meanwhile.

Prints one `name: value unit` line per figure.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from tickstock_server.api.rpc_metrics import RpcMetrics, final_code
from tickstock_server.delivery.filters import EventFilter
from tickstock_server.delivery.hub import DeliveryOptions, SubscriptionHub
from tickstock_server.support.histograms import Histogram

_METHOD = "/tickstock.v1.EventService/ListFilterPresets"
_BATCH_TICKS = 100


def _best_ns(run: Callable[[], None], rounds: int) -> float:
    """The fastest of five runs of `run` (which does `rounds` operations), per operation, in ns."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter_ns()
        run()
        best = min(best, (time.perf_counter_ns() - started) / rounds)
    return best


def _observe(rounds: int) -> float:
    histogram = Histogram()
    observe = histogram.observe

    def run() -> None:
        for index in range(rounds):
            observe(index * 1e-7)

    return _best_ns(run, rounds)


def _per_batch(rounds: int) -> float:
    histogram = Histogram()
    observe = histogram.observe
    clock = time.perf_counter

    def run() -> None:
        for _ in range(rounds):
            arrived = clock()
            observe(clock() - arrived)

    return _best_ns(run, rounds)


def _rpc(rounds: int) -> tuple[float, float]:
    metrics = RpcMetrics([_METHOD])
    label = metrics.label(_METHOD)
    clock = metrics.clock_s

    def unary() -> None:
        for _ in range(rounds):
            started_s = clock()
            metrics.unary_ended(label, final_code(None, returned=True, cancelled=False), started_s)

    def stream() -> None:
        for _ in range(rounds):
            started_s = clock()
            metrics.stream_started(label)
            metrics.first_message(label, started_s)
            metrics.stream_ended(label, final_code(None, returned=False, cancelled=True), started_s)

    return _best_ns(unary, rounds), _best_ns(stream, rounds)


def _hub_scrape(subscribers: int) -> float:
    hub = SubscriptionHub(max_streams_per_user=subscribers, queue_capacity=1000)
    options = DeliveryOptions(max_batch_size=100, max_batch_latency_s=0.0, heartbeat_interval_s=5.0)
    for index in range(subscribers):
        hub.subscribe("bench", EventFilter(symbols=frozenset({f"S{index}"})), options)
    return _best_ns(hub.metric_samples, 1)


def main() -> None:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=200_000)
    parser.add_argument("--subscribers", type=int, default=1000)
    args = parser.parse_args()
    per_batch_ns = _per_batch(args.rounds)
    unary_ns, stream_ns = _rpc(args.rounds)
    print(f"histogram_observe: {_observe(args.rounds):.0f} ns")
    print(f"detection_latency_per_batch: {per_batch_ns:.0f} ns")
    print(f"detection_latency_per_tick_at_{_BATCH_TICKS}_tick_batches: {per_batch_ns / _BATCH_TICKS:.1f} ns")
    print(f"rpc_metrics_unary: {unary_ns:.0f} ns")
    print(f"rpc_metrics_stream: {stream_ns:.0f} ns")
    print(f"hub_scrape_{args.subscribers}_subscribers: {_hub_scrape(args.subscribers) / 1000:.0f} us")


if __name__ == "__main__":
    main()
