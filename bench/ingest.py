"""Ingest throughput: raw Massive frames through the frame parser and every detector, frames to events.

Usage: .venv/bin/python bench/ingest.py [--kind A|T] [--symbols 4000] [--rate RATE] [--seconds 300]
       [--events-per-frame 100] [--start-minutes 10] [--seed 1]

The synthetic market's ticks become Massive WebSocket frames (the text of JSON arrays, as the feed
sends them): `A` per-second aggregates (default rate: one per symbol per second, the shape of the
`A.*` subscription) or `T` trades (default rate 100,000/s), `--events-per-frame` events per frame.
The default 300 s of event time, as in detect.py, take the trend detectors past their warm-up; a
shorter run measures mostly the cheaper warm-up.
Frames are generated in chunks outside the timed sections. Each chunk runs through one parser and
engine timed as a whole (throughput) and another timed per frame (latency per tick: a frame's time
over its ticks). Prints `name: value unit` lines, including the process's peak RSS and the build of
the detection core (`TICKSTOCK_NATIVE=0` for the interpreted one).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import time
from collections.abc import Iterator

from detect import tick_chunks  # bench/, the script's directory

from tickstock_server import native
from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.domain.tick import Tick
from tickstock_server.feeds.massive_frames import MassiveFrameParser
from tickstock_server.simulation.market import DEFAULT_START_NS
from tickstock_server.support.time_units import NS_PER_MS

_OPEN_NS = DEFAULT_START_NS + 5 * 60 * 1_000_000_000  # 09:30 ET


def _event(kind: str, tick: Tick) -> dict[str, object]:
    ms = tick.ts_ns // NS_PER_MS
    if kind == "T":
        return {
            "ev": "T",
            "sym": tick.symbol,
            "x": 4,
            "i": "1",
            "z": 3,
            "p": tick.price,
            "s": tick.volume,
            "c": [12],
            "t": ms,
            "q": 1,
        }
    return {
        "ev": "A",
        "sym": tick.symbol,
        "v": tick.volume,
        "av": tick.accumulated_volume or tick.volume,
        "op": tick.open_price or tick.price,
        "vw": tick.price,
        "o": tick.price,
        "c": tick.price,
        "h": tick.price,
        "l": tick.price,
        "a": tick.vwap or tick.price,
        "z": 10,
        "s": ms - 1000,
        "e": ms,
    }


def _frame_chunks(args: argparse.Namespace, count: int, rate: float) -> Iterator[list[str]]:
    start_ns = _OPEN_NS + int(args.start_minutes * 60e9)
    per = args.events_per_frame
    for ticks in tick_chunks(args.symbols, count, rate, args.seed, start_ns):
        yield [
            json.dumps([_event(args.kind, tick) for tick in ticks[i : i + per]])
            for i in range(0, len(ticks), per)
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("A", "T"), default="A")
    parser.add_argument("--symbols", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=None, help="ticks/s of event time (A: one per symbol)")
    parser.add_argument("--seconds", type=float, default=300.0, help="seconds of event time")
    parser.add_argument("--events-per-frame", type=int, default=100)
    parser.add_argument("--start-minutes", type=float, default=10.0, help="event time start after 09:30 ET")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rate = args.rate or (float(args.symbols) if args.kind == "A" else 100_000.0)
    count = int(rate * args.seconds)

    frames_parser, engine = MassiveFrameParser(), DetectionEngine()
    timed_parser, timed = MassiveFrameParser(), DetectionEngine()
    events = 0
    samples: list[float] = []
    elapsed = 0.0
    clock = time.perf_counter_ns
    for frames in _frame_chunks(args, count, rate):
        gc.collect()
        gc.freeze()
        parse, process = frames_parser.parse, engine.process
        started = time.perf_counter()
        for frame in frames:
            for tick in parse(frame, None):
                events += len(process(tick))
        elapsed += time.perf_counter() - started
        parse, process = timed_parser.parse, timed.process
        for frame in frames:
            before = clock()
            ticks = parse(frame, None)
            for tick in ticks:
                process(tick)
            samples.extend([(clock() - before) / max(1, len(ticks))] * len(ticks))
    cuts = statistics.quantiles(samples, n=100)

    print(f"build: {native.mode()}")
    print(f"symbols: {engine.symbol_count} symbols")
    print(f"ticks: {frames_parser.ticks_parsed} ticks")
    print(f"frames: {frames_parser.frames_parsed} frames")
    print(f"rejected: {sum(frames_parser.rejected.values())} events")
    print(f"events: {events} events")
    print(f"throughput: {frames_parser.ticks_parsed / elapsed:.0f} ticks/s")
    print(f"mean: {elapsed / frames_parser.ticks_parsed * 1e6:.2f} us")
    print(f"p99: {cuts[98] / 1000:.2f} us")
    print(f"max_rss: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
