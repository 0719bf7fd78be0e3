"""What a fuzz target is, and the loop that runs one: counting inputs, rejections and crashes.

A target's `run` takes one input and returns how many rejections the product made of it (0: accepted).
Anything it raises is a crash: the product raised where its contract says it rejects, or `TargetBroken`
when the product mishandled the input without raising (accepted an unusable value, left a rejection
uncounted). After the last input, the rejections must equal what the product itself counted
(`counted`), where it keeps a count.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fuzz_inputs import Generator

_MINIMIZE_ATTEMPTS = 3_000


class TargetBroken(Exception):  # noqa: N818 - reads as "the target broke"
    """The product mishandled an input without raising: an invariant of its contract does not hold."""


@dataclass
class Target:
    """One parser under fuzz, built fresh in the process that runs it."""

    generate: Generator
    """Makes one input from the seeded random source."""
    run: Callable[[bytes], int]
    """Feeds one input to the product; returns the rejections it made; raises on a crash."""
    counted: Callable[[], int] | None
    """The product's own count of rejections so far (its metrics), or None where it keeps none."""
    close: Callable[[], None] = lambda: None
    """Releases what the target holds (an event loop, a file)."""
    reasons: Callable[[], Mapping[str, int]] | None = None
    """Rejected inputs by reason (for requests: the status), where the target tells them apart."""


@dataclass
class Outcome:
    """What a run of one target found."""

    inputs: int = 0
    rejected_inputs: int = 0
    """Inputs of which the product rejected something."""
    rejections: int = 0
    crashes: int = 0
    uncounted: int = 0
    """Rejections the fuzzer saw minus those the product's counters show (must be 0)."""
    seconds: float = 0.0
    crash: str = ""
    """The crash's exception and the minimal input that reproduces it."""
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    """Rejected inputs by reason, where the target tells them apart."""


def signature(exc: BaseException) -> str:
    """What makes two crashes the same for minimisation: the exception type and where it was raised."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else "?"
    return f"{type(exc).__name__} at {where}"


def _crash_of(target: Target, data: bytes) -> str | None:
    try:
        target.run(data)
    except Exception as exc:
        return signature(exc)
    return None


def minimize(target: Target, data: bytes, crash: str) -> bytes:
    """The shortest input found (by removing ever smaller chunks) that crashes the same way."""
    attempts = 0
    chunk = max(len(data) // 2, 1)
    while chunk >= 1 and attempts < _MINIMIZE_ATTEMPTS:
        start = 0
        while start < len(data) and attempts < _MINIMIZE_ATTEMPTS:
            candidate = data[:start] + data[start + chunk :]
            attempts += 1
            if _crash_of(target, candidate) == crash:
                data = candidate
            else:
                start += chunk
        chunk //= 2
    return data


def run_target(name: str, build: Callable[[], Target], inputs: int, seed: int) -> Outcome:
    """Run `inputs` inputs of target `name` from `seed`; stop at the first crash, minimised."""
    target = build()
    rng = random.Random(f"{seed}:{name}")
    outcome = Outcome()
    started = time.perf_counter()
    for _ in range(inputs):
        data = target.generate(rng)
        outcome.inputs += 1
        try:
            rejections = target.run(data)
        except Exception as exc:
            outcome.crashes += 1
            crash = signature(exc)
            fresh = build()
            try:
                smallest = minimize(fresh, data, crash)
            finally:
                fresh.close()
            outcome.crash = (
                f"{type(exc).__name__}: {str(exc)[:300]} ({crash}); minimal input: {smallest!r:.2000}"
            )
            break
        outcome.rejections += rejections
        outcome.rejected_inputs += rejections > 0
    outcome.seconds = time.perf_counter() - started
    if target.counted is not None and not outcome.crashes:
        outcome.uncounted = outcome.rejections - target.counted()
    if target.reasons is not None:
        outcome.rejected_by_reason = dict(sorted(target.reasons().items()))
    target.close()
    return outcome
