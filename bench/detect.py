"""Detection throughput and per-tick latency over the synthetic market, all detectors on.

Usage: .venv/bin/python bench/detect.py [--symbols 4000] [--rate 4000] [--seconds 300]
       [--start-minutes 10] [--seed 1] [--build both|compiled|interpreted]

`--build both` (the default) runs the same workload twice, each in its own process: once on the
compiled detection core (scripts/build_native.py) and once interpreted (`TICKSTOCK_NATIVE=0`); it
prints each figure with a `compiled_` and an `interpreted_` prefix and `speedup` (compiled throughput
over interpreted). A child whose core is not the build it was asked for fails the run.

The synthetic market generates `--rate` ticks per second of event time over `--symbols` symbols for
`--seconds` of event time, starting `--start-minutes` after the 09:30 ET open of Monday 2026-01-05
(default 09:40, so the run crosses from the OPENING into the MIDDAY period). The default shape, one
tick per symbol per second, is that of per-second aggregates and the most expensive one: nearly every
tick starts a new second and so a trend evaluation. `--rate 100000` gives the shape of a trade feed at
100,000 ticks/s, where ticks of one symbol share seconds.

Ticks are generated in chunks outside the timed sections. Each chunk runs through two engines: one
timed as a whole (throughput, no per-tick clocks), one timed per tick (latency). Generated ticks are
frozen out of the cyclic garbage collector's reach (`gc.freeze()`): they are the benchmark's input, and
collections over them would measure the harness rather than the engine.
Prints one `name: value unit` line per figure.
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

from tickstock_server import native
from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.domain.tick import Tick
from tickstock_server.simulation.market import DEFAULT_START_NS, SyntheticMarket, SyntheticMarketConfig

_OPEN_NS = DEFAULT_START_NS + 5 * 60 * 1_000_000_000  # 09:30 ET
_CHUNK_TICKS = 100_000


def tick_chunks(symbols: int, count: int, rate: float, seed: int, start_ns: int) -> Iterator[list[Tick]]:
    """`count` synthetic ticks at `rate` per s of event time from `start_ns`, in chunks (ingest.py too)."""
    market = SyntheticMarket(seed, SyntheticMarketConfig(symbols=symbols))
    batch = max(1, int(rate / 50))  # 20 ms of event time per batch
    step_ns = int(batch / rate * 1e9)
    ts_ns = start_ns
    produced = 0
    while produced < count:
        chunk: list[Tick] = []
        while len(chunk) < _CHUNK_TICKS and produced + len(chunk) < count:
            chunk.extend(market.next_ticks(min(batch, count - produced - len(chunk)), ts_ns))
            ts_ns += step_ns
        produced += len(chunk)
        yield chunk


def run_builds(argv: list[str]) -> None:
    """Run this benchmark once per build in child processes; print prefixed figures and the speedup."""
    throughput: dict[str, float] = {}
    for build in ("compiled", "interpreted"):
        env = dict(os.environ)
        env.pop(native.ENV_SWITCH, None)
        if build == "interpreted":
            env[native.ENV_SWITCH] = "0"
        output = subprocess.run(
            [sys.executable, __file__, *argv, "--build", build],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for line in output.splitlines():
            print(f"{build}_{line}")
            name, _, value = line.partition(": ")
            if name == "throughput":
                throughput[build] = float(value.split()[0])
    print(f"speedup: {throughput['compiled'] / throughput['interpreted']:.2f} x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=4000.0, help="ticks per second of event time")
    parser.add_argument("--seconds", type=float, default=300.0, help="seconds of event time")
    parser.add_argument("--start-minutes", type=float, default=10.0, help="event time start after 09:30 ET")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--build", choices=("both", "compiled", "interpreted"), default="both")
    args = parser.parse_args()
    if args.build == "both":
        shape = ("symbols", "rate", "seconds", "start_minutes", "seed")
        run_builds(
            [part for key in shape for part in (f"--{key.replace('_', '-')}", str(getattr(args, key)))]
        )
        return
    if native.mode().split(":")[0] != args.build:
        raise SystemExit(f"asked for the {args.build} core, running {native.mode()}")
    count = int(args.rate * args.seconds)
    start_ns = _OPEN_NS + int(args.start_minutes * 60e9)

    engine = DetectionEngine()
    timed = DetectionEngine()
    by_type: collections.Counter[str] = collections.Counter()
    samples: list[int] = []
    elapsed = 0.0
    clock = time.perf_counter_ns
    for chunk in tick_chunks(args.symbols, count, args.rate, args.seed, start_ns):
        gc.collect()
        gc.freeze()
        process = engine.process
        started = time.perf_counter()
        for tick in chunk:
            for event in process(tick):
                by_type[event.type.value] += 1
        elapsed += time.perf_counter() - started
        process = timed.process
        for tick in chunk:
            before = clock()
            process(tick)
            samples.append(clock() - before)
    cuts = statistics.quantiles(samples, n=100)

    print(f"symbols: {engine.symbol_count} symbols")
    print(f"ticks: {count} ticks")
    print(f"events: {engine.events_emitted} events")
    for event_type in ("high", "low", "trend", "surge"):
        print(f"events_{event_type}: {by_type[event_type]} events")
    print(f"throughput: {count / elapsed:.0f} ticks/s")
    print(f"mean: {elapsed / count * 1e6:.2f} us")
    print(f"p50: {cuts[49] / 1000:.2f} us")
    print(f"p99: {cuts[98] / 1000:.2f} us")
    print(f"max: {max(samples) / 1000:.1f} us")


if __name__ == "__main__":
    main()
