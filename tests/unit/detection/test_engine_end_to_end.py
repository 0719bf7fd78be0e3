"""Detection is a function of the ticks: replays and re-runs give byte-identical event sequences."""

from __future__ import annotations

import collections
from pathlib import Path

from tickstock_server.api.mappers.events import encode_event
from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.domain.events import EventType
from tickstock_server.feeds.replay import ReplayTickSource
from tickstock_server.feeds.synthetic import SyntheticTickSource
from tickstock_server.simulation.market import DEFAULT_START_NS

SAMPLE = Path(__file__).parents[2] / "data" / "massive_sample.jsonl"


async def _replay_encoded(path: Path) -> list[bytes]:
    engine = DetectionEngine()
    encoded = []
    async for ticks in ReplayTickSource(path).ticks():
        for tick in ticks:
            for event in engine.process(tick):
                # The sequence number is the log's and the two wall-clock times are the server's;
                # everything else comes from the file. Sequence them as the log would.
                encoded.append(encode_event(event, len(encoded) + 1, 0, 0))
    return encoded


async def test_replaying_a_recording_twice_yields_byte_identical_event_sequences() -> None:
    first = await _replay_encoded(SAMPLE)
    second = await _replay_encoded(SAMPLE)

    assert first == second
    # The sample holds five symbols over five minutes of 2026-01-06 from 10:00 ET, with one news jump.
    assert len(first) > 100


async def test_default_synthetic_market_yields_every_event_type_within_a_minute_of_the_open() -> None:
    # The server's default market (4,000 symbols, 2,000 ticks/s, seed 42) for the first minute after
    # the 09:30 ET open, where its session clock starts, without real-time pacing.
    source = SyntheticTickSource(
        seed=42, rate=2000.0, realtime=False, interval_s=0.1, start_ns=DEFAULT_START_NS + 5 * 60 * 10**9,
        max_ticks=2000 * 60,
    )  # fmt: skip
    engine = DetectionEngine()
    counts: collections.Counter[EventType] = collections.Counter()
    async for ticks in source.ticks():
        for tick in ticks:
            for event in engine.process(tick):
                counts[event.type] += 1

    assert {EventType.HIGH, EventType.LOW, EventType.TREND, EventType.SURGE} <= counts.keys(), counts
