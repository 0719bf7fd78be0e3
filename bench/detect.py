"""Detection throughput and per-tick latency over the synthetic market.

Usage: .venv/bin/python bench/detect.py [--symbols 4000] [--ticks 400000] [--rate 2000] [--seed 1]

Ticks are generated first (not timed), at `--rate` ticks per second of event time from the 09:25 ET
default start, so the run crosses the opening into the regular session. Throughput is timed over the
whole run without per-tick clocks; latency is then measured per tick on a second, fresh engine.
Prints one `name: value unit` line per figure.
"""

from __future__ import annotations

import argparse
import statistics
import time

from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.domain.tick import Tick
from tickstock_server.feeds.synthetic import DEFAULT_START_NS, SyntheticMarket, SyntheticMarketConfig


def _ticks(symbols: int, count: int, rate: float, seed: int) -> list[Tick]:
    market = SyntheticMarket(seed, SyntheticMarketConfig(symbols=symbols))
    batch = max(1, int(rate / 50))  # 20 ms of event time per batch
    step_ns = int(batch / rate * 1e9)
    ticks: list[Tick] = []
    ts_ns = DEFAULT_START_NS
    while len(ticks) < count:
        ticks.extend(market.next_ticks(batch, ts_ns))
        ts_ns += step_ns
    return ticks[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=4000)
    parser.add_argument("--ticks", type=int, default=400_000)
    parser.add_argument("--rate", type=float, default=2000.0, help="ticks per second of event time")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    ticks = _ticks(args.symbols, args.ticks, args.rate, args.seed)

    engine = DetectionEngine()
    process = engine.process
    started = time.perf_counter()
    for tick in ticks:
        process(tick)
    elapsed = time.perf_counter() - started

    timed = DetectionEngine()
    process = timed.process
    clock = time.perf_counter_ns
    samples = []
    for tick in ticks:
        before = clock()
        process(tick)
        samples.append(clock() - before)
    cuts = statistics.quantiles(samples, n=100)

    print(f"symbols: {engine.symbol_count} symbols")
    print(f"ticks: {len(ticks)} ticks")
    print(f"events: {engine.events_emitted} events")
    print(f"throughput: {len(ticks) / elapsed:.0f} ticks/s")
    print(f"mean: {elapsed / len(ticks) * 1e6:.2f} us")
    print(f"p50: {cuts[49] / 1000:.2f} us")
    print(f"p99: {cuts[98] / 1000:.2f} us")
    print(f"max: {max(samples) / 1000:.1f} us")


if __name__ == "__main__":
    main()
