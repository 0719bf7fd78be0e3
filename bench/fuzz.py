"""Fuzzes every untrusted-input parser: N seeded inputs per target, 0 crashes expected, rejections counted.

Usage: nice -n 10 .venv/bin/python bench/fuzz.py [--inputs 1000000] [--seed 1] [--targets a,b] [--list]

Targets (see fuzz_feeds.py and fuzz_requests.py): the four producer channels through the pattern
consumer, Massive frames, recorded-frame replay files, and the request parsers and validators of every
RPC with fields (page tokens included, forged ones too; ids of the caller, of another user and of
nothing). Inputs are seeded mutations of valid inputs
(fuzz_inputs.py: byte flips, truncations, splices, odd values, NaN/Inf, NUL, deep nesting, huge
strings) and pure random bytes: the same seed gives the same inputs.

Each target runs in its own process, one after the other, and prints `name: value unit` lines:
inputs, inputs the product rejected something of, rejections, crashes, rejections the product's own
counters missed, and inputs/s. A crash prints its exception and the minimal input that reproduces it
(after shrinking), and the script exits 1; so it does when a rejection went uncounted.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import queue
import sys
from collections.abc import Callable

from fuzz_feeds import FEED_TARGETS
from fuzz_ids import ID_TARGETS
from fuzz_requests import REQUEST_TARGETS
from fuzz_target import Outcome, Target, run_target

TARGETS: dict[str, Callable[[], Target]] = {**FEED_TARGETS, **REQUEST_TARGETS, **ID_TARGETS}
"""Every fuzz target by name."""


def report(name: str, outcome: Outcome) -> list[str]:
    """The `name: value unit` lines of one target's run."""
    rate = outcome.inputs / outcome.seconds if outcome.seconds else 0.0
    lines = [
        f"fuzz_{name}_inputs: {outcome.inputs} inputs",
        f"fuzz_{name}_rejected_inputs: {outcome.rejected_inputs} inputs",
        f"fuzz_{name}_rejections: {outcome.rejections} rejections",
        f"fuzz_{name}_crashes: {outcome.crashes} crashes",
        f"fuzz_{name}_uncounted: {outcome.uncounted} rejections",
        f"fuzz_{name}_rate: {rate:.0f} inputs/s",
    ]
    lines += [
        f"fuzz_{name}_rejected_{reason}: {count} inputs"
        for reason, count in outcome.rejected_by_reason.items()
    ]
    if outcome.crash:
        lines.append(f"fuzz_{name}_crash: {outcome.crash}")
    return lines


def _child(name: str, inputs: int, seed: int, results: multiprocessing.Queue[Outcome]) -> None:
    # The product logs rejections at WARNING (rate-limited); a million inputs would bury the figures.
    logging.disable(logging.WARNING)
    results.put(run_target(name, TARGETS[name], inputs, seed))


def _outcome(
    process: multiprocessing.process.BaseProcess, results: multiprocessing.Queue[Outcome]
) -> Outcome:
    """The child's outcome; a child that died without one (a segfault, the OOM killer) is a crash."""
    while True:
        try:
            return results.get(timeout=1.0)
        except queue.Empty:
            if not process.is_alive() and results.empty():
                return Outcome(crashes=1, crash=f"the target's process died (exit code {process.exitcode})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000_000, help="inputs per target")
    parser.add_argument("--seed", type=int, default=1, help="seed of every target's inputs")
    parser.add_argument("--targets", default="", help="comma-separated target names (default: all)")
    parser.add_argument("--list", action="store_true", help="print the target names and exit")
    args = parser.parse_args()
    if args.list:
        print("\n".join(TARGETS))
        return 0
    names = [name for name in args.targets.split(",") if name] or list(TARGETS)
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        parser.error(f"unknown targets: {', '.join(unknown)}")
    print(f"fuzz_seed: {args.seed} seed", flush=True)
    failed = False
    context = multiprocessing.get_context("fork")
    for name in names:
        results: multiprocessing.Queue[Outcome] = context.Queue()
        process = context.Process(target=_child, args=(name, args.inputs, args.seed, results))
        process.start()
        outcome = _outcome(process, results)
        process.join()
        print("\n".join(report(name, outcome)), flush=True)
        failed |= bool(outcome.crashes or outcome.uncounted)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
