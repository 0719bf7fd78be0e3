"""GC pauses: counted per generation in cumulative buckets, exported as a histogram, hooked and unhooked."""

from __future__ import annotations

import gc
import math

from prometheus_client import CollectorRegistry, generate_latest

from tickstock_server.metrics import ServiceCollector
from tickstock_server.support.gc_pauses import PAUSE_BUCKETS_S, GcPauseRecorder

_BOUNDS = (*PAUSE_BUCKETS_S, math.inf)


class _Clock:
    def __init__(self) -> None:
        self.readings: list[int] = []

    def __call__(self) -> int:
        return self.readings.pop(0)


def _collect(
    recorder: GcPauseRecorder, clock: _Clock, generation: int, started_ns: int, stopped_ns: int
) -> None:
    """Run the hook as the collector would, with the clock reading `started_ns`, then `stopped_ns`."""
    clock.readings += [started_ns, stopped_ns]
    recorder("start", {"generation": generation})
    recorder("stop", {"generation": generation, "collected": 0, "uncollectable": 0})


def _histograms(recorder: GcPauseRecorder) -> dict[str, tuple[list[float], float]]:
    return {
        sample.labels["generation"]: ([count for _, count in sample.buckets], sample.value)
        for sample in recorder.metric_samples()
    }


def test_pauses_are_counted_per_generation_in_cumulative_buckets() -> None:
    clock = _Clock()
    recorder = GcPauseRecorder(clock_ns=clock)
    _collect(recorder, clock, 0, 1_000, 51_000)  # 50 µs
    _collect(recorder, clock, 0, 2_000_000, 2_300_000)  # 300 µs
    _collect(recorder, clock, 0, 5_000_000, 305_000_000)  # 300 ms: above every bound
    _collect(recorder, clock, 2, 0, 1_000_000)  # exactly 1 ms: a bucket counts pauses at or below its bound
    _collect(recorder, clock, 2, 0, 3_000_000)  # 3 ms

    histograms = _histograms(recorder)

    assert [bound for bound, _ in recorder.metric_samples()[0].buckets] == list(_BOUNDS)
    assert histograms["0"] == ([1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3], 0.30035)
    assert histograms["1"] == ([0] * 11, 0.0)
    assert histograms["2"] == ([0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 2], 0.004)


def test_a_stop_without_its_start_is_not_counted() -> None:
    recorder = GcPauseRecorder(clock_ns=lambda: 10**12)

    recorder("stop", {"generation": 1, "collected": 0, "uncollectable": 0})

    assert _histograms(recorder)["1"] == ([0] * 11, 0.0)


def _series(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_a_forced_collection_shows_in_the_exposition_as_a_histogram() -> None:
    registry = CollectorRegistry(auto_describe=False)
    with GcPauseRecorder() as recorder:
        registry.register(ServiceCollector([recorder]))
        gc.collect()
        exported = generate_latest(registry).decode()

    series = _series(exported)
    assert "# TYPE tickstock_gc_pause_seconds histogram" in exported.splitlines()
    buckets = [
        series[f'tickstock_gc_pause_seconds_bucket{{generation="2",le="{le}"}}']
        for le in [
            "0.0001",
            "0.0005",
            "0.001",
            "0.0025",
            "0.005",
            "0.01",
            "0.025",
            "0.05",
            "0.1",
            "0.25",
            "+Inf",
        ]
    ]
    assert buckets == sorted(buckets)  # cumulative
    assert buckets[-1] == series['tickstock_gc_pause_seconds_count{generation="2"}'] >= 1
    assert series['tickstock_gc_pause_seconds_sum{generation="2"}'] > 0
    assert {
        'tickstock_gc_pause_seconds_count{generation="0"}',
        'tickstock_gc_pause_seconds_count{generation="1"}',
    } <= set(series)


def test_uninstalling_removes_the_hook_and_stops_counting() -> None:
    hooks_before = list(gc.callbacks)
    recorder = GcPauseRecorder()

    recorder.install()
    recorder.install()
    assert gc.callbacks == [*hooks_before, recorder]
    recorder.uninstall()
    gc.collect()

    assert gc.callbacks == hooks_before
    assert all(buckets[-1] == 0 for buckets, _ in _histograms(recorder).values())


def test_leaving_the_context_uninstalls_even_after_an_error() -> None:
    hooks_before = list(gc.callbacks)
    recorder = GcPauseRecorder()

    try:
        with recorder:
            assert recorder in gc.callbacks
            raise RuntimeError("boom")
    except RuntimeError:
        pass

    assert gc.callbacks == hooks_before
