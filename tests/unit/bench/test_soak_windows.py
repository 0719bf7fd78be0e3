"""The soak benchmark's windows: latency sampling and merging, growth against the baseline, the checks."""

from __future__ import annotations

import random

from soak_windows import (
    LATENCY_SAMPLES,
    ClientCounts,
    Window,
    check,
    growth_pct,
    merged_latencies,
    percentile,
    window_lines,
)


def _window(index: int, rss: float, pss: float, **counts: int) -> Window:
    return Window(
        index=index,
        rss_mb={"gateway": rss / 2, "ingest": rss / 2},
        pss_mb=pss,
        fds={"gateway": 40},
        tasks={"gateway_0": 7},
        clients=[ClientCounts(**counts)],  # type: ignore[arg-type]
    )


def test_reservoir_keeps_a_bounded_sample_and_counts_every_latency() -> None:
    counts = ClientCounts(rng=random.Random(3))

    counts.add_latencies(float(value) for value in range(LATENCY_SAMPLES * 3))

    assert len(counts.latencies_ms) == LATENCY_SAMPLES
    assert counts.seen == LATENCY_SAMPLES * 3
    # A uniform sample of 0 .. 3N: its median is near 1.5 N, not near N / 2 (the first values kept).
    assert abs(percentile(counts.latencies_ms, 50) - LATENCY_SAMPLES * 1.5) < LATENCY_SAMPLES * 0.05


def test_merged_latencies_weigh_each_worker_by_what_its_sample_stands_for() -> None:
    busy = ClientCounts(latencies_ms=[10.0, 10.0], seen=20)  # each value stands for 10
    quiet = ClientCounts(latencies_ms=[1.0, 1.0], seen=2)

    merged = merged_latencies([busy, quiet])

    assert merged.count(10.0) == 20
    assert merged.count(1.0) == 2
    assert percentile(merged, 50) == 10.0


def test_percentile_of_nothing_is_zero_and_nearest_rank_otherwise() -> None:
    assert percentile([], 99) == 0.0
    assert percentile([float(value) for value in range(1, 101)], 99) == 100.0
    assert percentile([float(value) for value in range(1, 101)], 50) == 51.0


def test_growth_is_relative_to_the_baseline() -> None:
    assert growth_pct(200.0, 219.0) == 9.5
    assert growth_pct(0.0, 10.0) == 0.0


def test_memory_within_the_limit_and_clean_resumes_pass() -> None:
    windows = [_window(0, 900, 700), _window(1, 1000, 800), _window(2, 1090, 870, resumes=50)]

    assert check(windows, baseline=1, max_growth_pct=10) == []


def test_growth_from_the_baseline_to_the_last_window_fails_and_says_by_how_much() -> None:
    # Window 0 is warm-up: against it the last would have grown 21 %, against window 1 only 9 %.
    windows = [_window(0, 900, 700), _window(1, 1000, 800), _window(2, 1090, 900)]

    failures = check(windows, baseline=1, max_growth_pct=10)

    assert failures == ["PSS grew 12.5 % from window 1 (800 MB) to window 2 (900 MB), limit 10 %"]


def test_drops_gaps_duplicates_and_errors_in_any_window_fail() -> None:
    errors = ClientCounts(errors=2, error_codes={"UNAVAILABLE"})
    windows = [
        _window(0, 1000, 800, drops=3),
        _window(1, 1000, 800, gaps=1, duplicates=4),
        Window(index=2, rss_mb={"gateway": 1000}, pss_mb=800, fds={}, tasks={}, clients=[errors]),
    ]

    assert check(windows, baseline=0, max_growth_pct=10) == [
        "window 0: 3 drops",
        "window 1: 1 gap notices",
        "window 1: 4 duplicate events",
        "window 2: 2 stream errors (UNAVAILABLE)",
    ]


def test_a_run_too_short_for_its_baseline_fails() -> None:
    assert check([_window(0, 1000, 800)], baseline=1, max_growth_pct=10) != []


def test_window_lines_name_every_figure_with_its_unit() -> None:
    first, second = _window(0, 1000, 800), _window(1, 1100, 800, events=600, resumes=30)

    lines = window_lines(second, first, seconds=30)

    assert "window_1_rss_total: 1100 MB" in lines
    assert "window_1_rss_growth: 10.0 %" in lines
    assert "window_1_pss_growth: 0.0 %" in lines
    assert "window_1_fds_gateway: 40 fds" in lines
    assert "window_1_asyncio_tasks_gateway_0: 7 tasks" in lines
    assert "window_1_delivered: 20 events/s" in lines
    assert "window_1_resumes: 1.0 streams/s" in lines
    assert all(line.startswith("window_1_") and ": " in line for line in lines)
    assert not any("growth" in line for line in window_lines(first, None, seconds=30))
