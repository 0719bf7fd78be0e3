"""ScanPatterns latency over a PatternCache of 50,000 realistic patterns, with a mix of filters and sorts.

Usage: .venv/bin/python bench/scan.py [--patterns 50000] [--symbols 600] [--rounds 10] [--seed 1]

The cache is filled with `--patterns` patterns over `--symbols` symbols (popularity skewed: a few symbols
carry many patterns), the 13 pattern types of the original's cache, confidences between 0.4 and 0.99
(a minimum of 0.5 therefore excludes some), indicators missing on one pattern in ten, and timeframes
daily, intraday, combo or none. Each round runs every scan of the mix (no filter; one type; ten
symbols; confidence >= 0.8; an RSI range; a timeframe; combined filters) with every sort field in both
directions, fetching pages 1 to 3 of 30 through the keyset cursor, each scan timed on its own.
Then 20,000 more patterns are put into the full cache (each evicting one) to time puts at capacity.

Prints one `name: value unit` line per figure.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tickstock_server.domain.patterns import (
    Pattern,
    PatternIndicators,
    PatternSource,
    PatternTimeframe,
)
from tickstock_server.patterns.cache import PatternCache
from tickstock_server.patterns.scan import ScanQuery, ScanSortField

Figure = tuple[str, float | int, str]
"""One output line: name, value, unit."""

PATTERN_TYPES = (
    "Weekly_Breakout",
    "Bull_Flag",
    "Trendline_Hold",
    "Volume_Spike",
    "Gap_Fill",
    "Momentum_Shift",
    "Support_Test",
    "Resistance_Break",
    "Ascending_Triangle",
    "Reversal_Signal",
    "Doji",
    "Hammer",
    "Engulfing",
)
TIMEFRAMES = (PatternTimeframe.DAILY, PatternTimeframe.INTRADAY, PatternTimeframe.COMBO, None)
NOW_NS = 1_780_000_000 * 1_000_000_000
HOUR_NS = 3_600 * 1_000_000_000
PAGES = 3
PAGE_SIZE = 30
CHURN_PATTERNS = 20_000


def make_symbols(count: int, rng: random.Random) -> list[str]:
    symbols: set[str] = set()
    while len(symbols) < count:
        symbols.add("".join(rng.choices(string.ascii_uppercase, k=rng.choice((2, 3, 4, 4)))))
    return sorted(symbols)


def make_patterns(count: int, symbols: list[str], rng: random.Random) -> Iterator[Pattern]:
    weights = [1.0 / (rank + 1) ** 0.6 for rank in range(len(symbols))]
    chosen = rng.choices(symbols, weights, k=count)
    for i, symbol in enumerate(chosen):
        detected_ns = NOW_NS - rng.randrange(HOUR_NS)
        missing = rng.random() < 0.1
        yield Pattern(
            pattern_id=f"{symbol}:{i:08d}",
            symbol=symbol,
            pattern_type=rng.choice(PATTERN_TYPES),
            confidence=round(rng.triangular(0.4, 0.99, 0.75), 3),
            price=round(rng.uniform(2.0, 900.0), 2),
            price_change_pct=round(rng.gauss(0.0, 2.0), 2),
            detected_ns=detected_ns,
            expires_ns=detected_ns + HOUR_NS + rng.randrange(HOUR_NS),
            timeframe=rng.choice(TIMEFRAMES),
            source=PatternSource.PRODUCER,
            indicators=PatternIndicators()
            if missing
            else PatternIndicators(
                relative_strength=round(rng.lognormvariate(0.0, 0.3), 3),
                relative_volume=round(rng.lognormvariate(0.2, 0.5), 3),
                rsi=round(min(100.0, max(0.0, rng.gauss(50.0, 15.0))), 1),
            ),
        )


def query_mix(symbols: list[str], rng: random.Random) -> list[ScanQuery]:
    """The filter templates of one round, before sort field, direction and page are applied."""
    return [
        ScanQuery(),
        ScanQuery(pattern_types=frozenset({rng.choice(PATTERN_TYPES)})),
        ScanQuery(pattern_types=frozenset(rng.sample(PATTERN_TYPES, 3))),
        ScanQuery(symbols=frozenset(rng.sample(symbols, 10))),
        ScanQuery(min_confidence=0.8),
        ScanQuery(min_rsi=30.0, max_rsi=70.0),
        ScanQuery(min_rsi=70.0, max_rsi=100.0),
        ScanQuery(timeframes=frozenset({PatternTimeframe.DAILY})),
        ScanQuery(
            pattern_types=frozenset({rng.choice(PATTERN_TYPES)}),
            min_confidence=0.7,
            min_relative_strength=1.2,
        ),
        ScanQuery(min_relative_volume=2.0, min_rsi=40.0, max_rsi=80.0),
    ]


def run_scans(cache: PatternCache, templates: list[ScanQuery]) -> list[int]:
    """Latency in ns of every scan of one round: each template x sort field x direction x pages 1..3."""
    samples: list[int] = []
    clock = time.perf_counter_ns
    for template in templates:
        for field in ScanSortField:
            for descending in (True, False):
                query = _with(template, sort_by=field, descending=descending, page_size=PAGE_SIZE)
                for _ in range(PAGES):
                    started = clock()
                    page = cache.scan(query, NOW_NS)
                    samples.append(clock() - started)
                    if page.next_cursor is None:
                        break
                    query = _with(query, after=page.next_cursor)
    return samples


def _with(query: ScanQuery, **changes: object) -> ScanQuery:
    fields = {name: getattr(query, name) for name in ScanQuery.__dataclass_fields__}
    fields.update(changes)
    return ScanQuery(**fields)


def extra_figures() -> list[Figure]:
    """The consumer's figures (bench/consumer.py, run as a child process): messages/s validated and indexed.

    One run of this script thus gives every figure of issue #6 for docs/performance.md.
    """
    script = Path(__file__).with_name("consumer.py")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    figures: list[Figure] = []
    for line in done.stdout.splitlines():
        name, _, rest = line.partition(": ")
        value, _, unit = rest.partition(" ")
        if name and value:
            figures.append((name, float(value), unit))
    return figures


def percentile(sorted_values: list[int], fraction: float) -> int:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patterns", type=int, default=50_000)
    parser.add_argument("--symbols", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    symbols = make_symbols(args.symbols, rng)
    patterns = list(make_patterns(args.patterns + CHURN_PATTERNS, symbols, rng))
    churn = patterns[args.patterns :]
    patterns = patterns[: args.patterns]

    cache = PatternCache(max_patterns=args.patterns)
    started = time.perf_counter()
    for pattern in patterns:
        cache.put(pattern)
    fill_s = time.perf_counter() - started
    # The full collections that follow a fill of this many long-lived objects are a one-off of start-up;
    # a cache in steady state does not pay them on every scan.
    gc.collect()

    samples: list[int] = []
    for _ in range(args.rounds):
        samples.extend(run_scans(cache, query_mix(symbols, rng)))
    samples.sort()

    # Steady state at capacity: every put evicts the pattern expiring soonest.
    started = time.perf_counter()
    for pattern in churn:
        cache.put(pattern)
    churn_s = time.perf_counter() - started
    to_ms = 1e-6
    figures: list[Figure] = [
        ("patterns", len(cache), "patterns"),
        ("symbols", len({p.symbol for p in patterns}), "symbols"),
        ("cache_fill_rate", round(len(patterns) / fill_s), "patterns/s"),
        ("cache_put_rate_at_capacity", round(len(churn) / churn_s), "patterns/s"),
        ("scans", len(samples), "scans"),
        ("scan_mean", round(statistics.fmean(samples) * to_ms, 3), "ms"),
        ("scan_p50", round(percentile(samples, 0.50) * to_ms, 3), "ms"),
        ("scan_p95", round(percentile(samples, 0.95) * to_ms, 3), "ms"),
        ("scan_p99", round(percentile(samples, 0.99) * to_ms, 3), "ms"),
        ("scan_max", round(samples[-1] * to_ms, 3), "ms"),
    ]
    figures.extend(extra_figures())
    for name, value, unit in figures:
        print(f"{name}: {value} {unit}")


if __name__ == "__main__":
    main()
