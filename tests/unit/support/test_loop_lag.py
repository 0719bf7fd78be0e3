"""The loop-lag probe: each run counts how far past its due time it ran, by its own clock."""

from __future__ import annotations

import asyncio

import pytest

from tickstock_server.support.loop_lag import LAG_BUCKETS_S, LoopLagProbe


class _Clock:
    """A clock the test moves; the probe's timers still fire on the loop's own time. Each reading is
    queued, so the test can wait for the probe's next run (the start reads it too)."""

    def __init__(self) -> None:
        self.now_s = 100.0
        self.readings: asyncio.Queue[float] = asyncio.Queue()

    def __call__(self) -> float:
        self.readings.put_nowait(self.now_s)
        return self.now_s

    async def runs(self, count: int) -> None:
        """Wait for `count` more readings."""
        async with asyncio.timeout(5):
            for _ in range(count):
                await self.readings.get()


def _counts(probe: LoopLagProbe) -> tuple[list[float], float]:
    (sample,) = probe.metric_samples()
    assert sample.name == "tickstock_event_loop_lag_seconds"
    return [count for _, count in sample.buckets], sample.value


def _observed(probe: LoopLagProbe) -> float:
    return _counts(probe)[0][-1]  # the +Inf bucket counts every run


async def test_a_late_run_counts_its_lateness_once() -> None:
    clock = _Clock()
    with LoopLagProbe(interval_s=0.002, clock_s=clock) as probe:  # due at 100.002
        await clock.runs(1)  # the start's reading
        clock.now_s = 100.032  # the loop was held for 30 ms past the due time
        # The run after the late one is due at once (100.032), and the ones after it 2 ms apart: by this
        # clock, which no longer moves, every one of them is on time.
        await clock.runs(2)

    counts, total = _counts(probe)
    up_to_25_ms = counts[LAG_BUCKETS_S.index(0.025)]
    assert _observed(probe) - up_to_25_ms == 1  # one run above 25 ms: the late one, counted once
    assert counts[0] == _observed(probe) - 1  # every other run within the first bucket (0 s late)
    assert total == pytest.approx(0.03)


async def test_a_stopped_probe_runs_no_more() -> None:
    clock = _Clock()
    probe = LoopLagProbe(interval_s=0.001, clock_s=clock)
    probe.start()
    await clock.runs(2)  # the start and one run
    probe.stop()
    counted = _counts(probe)[0][-1]

    await asyncio.sleep(0.02)

    assert _counts(probe)[0][-1] == counted


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        LoopLagProbe(interval_s=0)
