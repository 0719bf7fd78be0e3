"""Detection throughput and per-tick latency over the synthetic market.

Usage: .venv/bin/python bench/detect.py [--symbols 4000] [--ticks 1200000] [--rate 4000]
       [--start-minutes 10] [--seed 1]

Ticks are generated first (not timed), at `--rate` ticks per second of event time starting
`--start-minutes` after the 09:30 ET open of Monday 2026-01-05 (default 09:40, so the default five
minutes of event time cross from the OPENING into the MIDDAY period with every detector warmed up on
the busier symbols). Throughput is timed over the
whole run without per-tick clocks; latency is then measured per tick on a second, fresh engine.
The generated ticks are moved out of the garbage collector's reach (`gc.freeze()`) before timing: they
are the benchmark's input, and a server never holds a million ticks, so collections over them would
measure the harness rather than the engine. Prints one `name: value unit` line per figure.
"""

from __future__ import annotations

import argparse
import collections
import gc
import statistics
import time

from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.domain.tick import Tick
from tickstock_server.feeds.synthetic import DEFAULT_START_NS, SyntheticMarket, SyntheticMarketConfig

_OPEN_NS = DEFAULT_START_NS + 5 * 60 * 1_000_000_000  # 09:30 ET


def _ticks(symbols: int, count: int, rate: float, seed: int, start_ns: int) -> list[Tick]:
    market = SyntheticMarket(seed, SyntheticMarketConfig(symbols=symbols))
    batch = max(1, int(rate / 50))  # 20 ms of event time per batch
    step_ns = int(batch / rate * 1e9)
    ticks: list[Tick] = []
    ts_ns = start_ns
    while len(ticks) < count:
        ticks.extend(market.next_ticks(batch, ts_ns))
        ts_ns += step_ns
    return ticks[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=4000)
    parser.add_argument("--ticks", type=int, default=1_200_000)
    parser.add_argument("--rate", type=float, default=4000.0, help="ticks per second of event time")
    parser.add_argument("--start-minutes", type=float, default=10.0, help="event time start after 09:30 ET")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    start_ns = _OPEN_NS + int(args.start_minutes * 60e9)
    ticks = _ticks(args.symbols, args.ticks, args.rate, args.seed, start_ns)
    gc.collect()
    gc.freeze()

    engine = DetectionEngine()
    process = engine.process
    by_type: collections.Counter[str] = collections.Counter()
    started = time.perf_counter()
    for tick in ticks:
        for event in process(tick):
            by_type[event.type.value] += 1
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
    for event_type in ("high", "low", "trend", "surge"):
        print(f"events_{event_type}: {by_type[event_type]} events")
    print(f"throughput: {len(ticks) / elapsed:.0f} ticks/s")
    print(f"mean: {elapsed / len(ticks) * 1e6:.2f} us")
    print(f"p50: {cuts[49] / 1000:.2f} us")
    print(f"p99: {cuts[98] / 1000:.2f} us")
    print(f"max: {max(samples) / 1000:.1f} us")


if __name__ == "__main__":
    main()
