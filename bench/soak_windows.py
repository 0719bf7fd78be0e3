"""Pure parts of `bench/soak.py`: the counts of one window, their sum over workers, lines and checks."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

LATENCY_SAMPLES = 100_000
"""Latencies one worker keeps per window (a uniform reservoir sample of all it measured)."""


@dataclass
class ClientCounts:
    """What one load-generator worker counted in one window; latencies in ms."""

    rng: random.Random = field(default_factory=random.Random)
    latencies_ms: list[float] = field(default_factory=list)
    seen: int = 0
    """Latencies measured, of which `latencies_ms` holds a sample of at most `LATENCY_SAMPLES`."""
    events: int = 0
    drops: int = 0
    gaps: int = 0
    duplicates: int = 0
    """Events at or below the seq of the subscriber's last token: delivered twice across a resume."""
    errors: int = 0
    error_codes: set[str] = field(default_factory=set)
    resumes: int = 0

    def add_latencies(self, values: Iterable[float]) -> None:
        """Keep every value while there is room, then each with probability room / seen (reservoir)."""
        for value in values:
            self.seen += 1
            if len(self.latencies_ms) < LATENCY_SAMPLES:
                self.latencies_ms.append(value)
            else:
                slot = self.rng.randrange(self.seen)
                if slot < LATENCY_SAMPLES:
                    self.latencies_ms[slot] = value


@dataclass(frozen=True)
class Window:
    """One window of the whole run: the service's processes and the clients' counts."""

    index: int
    rss_mb: dict[str, float]
    """VmRSS by process role, summed over a role's processes."""
    pss_mb: float
    fds: dict[str, int]
    """Open file descriptors by process role."""
    tasks: dict[str, int]
    """asyncio tasks by metrics endpoint ("ingest", "gateway-0", ...)."""
    clients: Sequence[ClientCounts]

    @property
    def rss_total_mb(self) -> float:
        """RSS of every service process."""
        return sum(self.rss_mb.values())


def percentile(samples: Sequence[float], p: float) -> float:
    """The `p`-th percentile of `samples` (nearest rank), 0 without samples."""
    ordered = sorted(samples)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def merged_latencies(clients: Sequence[ClientCounts]) -> list[float]:
    """Every worker's sample, each value weighted by how many latencies it stands for (by repetition)."""
    result: list[float] = []
    smallest = min((c.seen / len(c.latencies_ms) for c in clients if c.latencies_ms), default=1.0)
    for counts in clients:
        if counts.latencies_ms:
            weight = max(1, round(counts.seen / len(counts.latencies_ms) / smallest))
            result += counts.latencies_ms * weight
    return result


def growth_pct(base: float, value: float) -> float:
    """Growth of `value` over `base` in percent (0 if `base` is not positive)."""
    return (value - base) / base * 100 if base > 0 else 0.0


def window_lines(window: Window, baseline: Window | None, seconds: float) -> list[str]:
    """The window's `name: value unit` lines, prefixed with `window_<index>_`."""
    prefix = f"window_{window.index}_"
    clients = window.clients
    latencies = merged_latencies(clients)
    lines = [f"rss_total: {window.rss_total_mb:.0f} MB", f"pss_total: {window.pss_mb:.0f} MB"]
    if baseline is not None:
        lines.append(f"rss_growth: {growth_pct(baseline.rss_total_mb, window.rss_total_mb):.1f} %")
        lines.append(f"pss_growth: {growth_pct(baseline.pss_mb, window.pss_mb):.1f} %")
    lines += [f"rss_{role}: {mb:.0f} MB" for role, mb in sorted(window.rss_mb.items())]
    lines += [f"fds_{role}: {count} fds" for role, count in sorted(window.fds.items())]
    lines += [f"asyncio_tasks_{name}: {count} tasks" for name, count in sorted(window.tasks.items())]
    lines += [
        f"delivered: {sum(c.events for c in clients) / seconds:.0f} events/s",
        f"resumes: {sum(c.resumes for c in clients) / seconds:.1f} streams/s",
        f"latency_p50: {percentile(latencies, 50):.2f} ms",
        f"latency_p99: {percentile(latencies, 99):.2f} ms",
        f"drops: {sum(c.drops for c in clients)} events",
        f"gaps: {sum(c.gaps for c in clients)} notices",
        f"duplicates: {sum(c.duplicates for c in clients)} events",
        f"stream_errors: {sum(c.errors for c in clients)} streams",
    ]
    return [prefix + line for line in lines]


def check(windows: Sequence[Window], baseline: int, max_growth_pct: float) -> list[str]:
    """Why the run failed, one sentence each; empty if it passed.

    Memory: total RSS and PSS of the last window against window `baseline` must grow less than
    `max_growth_pct`. Every window: no drops, gaps, duplicates or stream errors (resumes are clean).
    """
    failures = []
    if len(windows) <= baseline:
        return [f"the run ended with {len(windows)} windows; the memory check needs more than {baseline}"]
    base, last = windows[baseline], windows[-1]
    for name, before, after in [
        ("RSS", base.rss_total_mb, last.rss_total_mb),
        ("PSS", base.pss_mb, last.pss_mb),
    ]:
        growth = growth_pct(before, after)
        if growth >= max_growth_pct:
            failures.append(
                f"{name} grew {growth:.1f} % from window {base.index} ({before:.0f} MB) to window "
                f"{last.index} ({after:.0f} MB), limit {max_growth_pct:g} %"
            )
    for window in windows:
        for what, count in [
            ("drops", sum(c.drops for c in window.clients)),
            ("gap notices", sum(c.gaps for c in window.clients)),
            ("duplicate events", sum(c.duplicates for c in window.clients)),
            ("stream errors", sum(c.errors for c in window.clients)),
        ]:
            if count:
                codes = sorted({code for c in window.clients for code in c.error_codes})
                detail = f" ({', '.join(codes)})" if what == "stream errors" else ""
                failures.append(f"window {window.index}: {count} {what}{detail}")
    return failures
