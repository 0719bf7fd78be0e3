"""Detector state: memory and garbage-collection cost of every symbol's detectors at steady state.

Usage: .venv/bin/python bench/detector_state.py [--symbols 11000] [--seconds 900] [--rate RATE]
       [--start-minutes 10] [--seed 1]

One detection engine (bars off, as in `detect.py`) takes `--rate` synthetic ticks per second of event
time (default: one per symbol per second, the shape of Massive's `A.*` per-second aggregates, and the
most state: every symbol has a point in every second) for `--seconds` of event time. The detectors'
windows are bounded (the trend detector's long window, 600 s by default, is the largest), so past it
the state is at its steady size; the run prints the figures at the middle and at the end, and the two
agree when it is steady.

Figures, as `name: value unit` lines, for each checkpoint (`half_`, `end_`):
- `rss`: the process's resident memory, the interpreter and the tick generator included;
- `state`: RSS above the same process before the first tick, per process and per symbol;
- `gc_tracked`: objects the cyclic garbage collector tracks (each costs a visit per full collection);
- `gc_full`: the time of one full collection (`gc.collect()`), best of three.
The build of the detection core is printed too (`TICKSTOCK_NATIVE=0` for the interpreted one).
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

from tickstock_server import native
from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.domain.tick import Tick
from tickstock_server.simulation.market import DEFAULT_START_NS, SyntheticMarket, SyntheticMarketConfig

_OPEN_NS = DEFAULT_START_NS + 5 * 60 * 1_000_000_000  # 09:30 ET
_PAGE = 4096


def rss_mb() -> float:
    """This process's resident set now, MB (statm: pages)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * _PAGE / 1e6


def full_collection_ms() -> float:
    """Best of three full collections, ms."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        gc.collect()
        best = min(best, time.perf_counter() - started)
    return best * 1e3


def report(prefix: str, symbols: int, base_mb: float) -> None:
    """Print one checkpoint's figures."""
    gc.collect()
    rss = rss_mb()
    print(f"{prefix}rss: {rss:.0f} MB")
    print(f"{prefix}state: {rss - base_mb:.0f} MB")
    print(f"{prefix}state_per_symbol: {(rss - base_mb) * 1e6 / symbols / 1e3:.1f} KB")
    print(f"{prefix}gc_tracked: {len(gc.get_objects())} objects")
    print(f"{prefix}gc_full: {full_collection_ms():.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=11_000)
    parser.add_argument("--seconds", type=float, default=900.0, help="seconds of event time")
    parser.add_argument("--rate", type=float, default=None, help="ticks/s of event time (default: symbols)")
    parser.add_argument("--start-minutes", type=float, default=10.0, help="event time start after 09:30 ET")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rate = args.rate if args.rate is not None else float(args.symbols)
    count = int(rate * args.seconds)
    start_ns = _OPEN_NS + int(args.start_minutes * 60e9)

    market = SyntheticMarket(args.seed, SyntheticMarketConfig(symbols=args.symbols))
    engine = DetectionEngine()
    # Ticks are made 20 ms of event time at a time, so only a few hundred exist at once: the market's
    # per-symbol state exists before the baseline, the ticks in flight add nothing measurable.
    batch = max(1, int(rate / 50))
    step_ns = int(batch / rate * 1e9)
    ts_ns = start_ns
    market.next_ticks(1, ts_ns)
    gc.collect()
    base_mb = rss_mb()
    print(f"build: {native.mode()}")
    print(f"symbols: {args.symbols} symbols")
    print(f"baseline_rss: {base_mb:.0f} MB")
    processed = 0
    reported_half = False
    while processed < count:
        ticks: list[Tick] = market.next_ticks(min(batch, count - processed), ts_ns)
        for tick in ticks:
            engine.process(tick)
        processed += len(ticks)
        ts_ns += step_ns
        if not reported_half and processed >= count // 2:
            report("half_", args.symbols, base_mb)
            reported_half = True
    print(f"ticks: {processed} ticks")
    report("end_", args.symbols, base_mb)


if __name__ == "__main__":
    main()
