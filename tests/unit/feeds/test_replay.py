import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from factories import REGULAR_TS_NS
from replay_time import WALL_NS, FakeTime

from tickstock_server.domain.tick import Tick
from tickstock_server.feeds.massive_frames import MassiveFrameParser
from tickstock_server.feeds.recording import FrameRecorder, frame_line
from tickstock_server.feeds.replay import ReplayTickSource

SAMPLE = Path(__file__).parents[2] / "data" / "massive_sample.jsonl"
TS_MS = REGULAR_TS_NS // 1_000_000  # 2026-01-06 10:00:00 ET in epoch milliseconds


def aggregate(sym: str, end_ms: int, close: float = 100.0) -> dict[str, Any]:
    return {"ev": "A", "sym": sym, "v": 100, "av": 5000, "op": 99.5, "vw": close, "o": close, "c": close,
            "h": close, "l": close, "a": 99.8, "z": 50, "s": end_ms - 1000, "e": end_ms}  # fmt: skip


def write_lines(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def frame(*events: object) -> str:
    return json.dumps(list(events), separators=(",", ":"))


async def collect(source: ReplayTickSource) -> list[list[Tick]]:
    return [batch async for batch in source.ticks()]


async def test_as_fast_replay_twice_gives_identical_ticks() -> None:
    first = await collect(ReplayTickSource(SAMPLE))
    second = await collect(ReplayTickSource(SAMPLE))

    assert len(first) == 300  # one batch per A frame; the status frame yields nothing
    assert first == second


async def test_as_fast_replay_yields_every_event_stamped_with_its_event_time() -> None:
    source = ReplayTickSource(SAMPLE)
    expected_events = sum(len(json.loads(line)) for line in SAMPLE.read_text().splitlines()[1:])

    ticks = [tick for batch in await collect(source) for tick in batch]

    assert len(ticks) == expected_events
    assert all(tick.received_ns == tick.ts_ns for tick in ticks)
    assert ticks[0].ts_ns == REGULAR_TS_NS + 1_000_000_000  # the first aggregate ends at 10:00:01 ET
    assert (source.frames_read, source.ticks_parsed, dict(source.rejected)) == (301, expected_events, {})


async def test_batch_frames_groups_frames_without_changing_the_ticks() -> None:
    single = await collect(ReplayTickSource(SAMPLE))

    grouped = await collect(ReplayTickSource(SAMPLE, batch_frames=7))

    # 301 lines in groups of 7: 43 groups; the status line adds no ticks but still counts as a frame
    assert len(grouped) == 43
    assert [tick for batch in grouped for tick in batch] == [tick for batch in single for tick in batch]


async def test_bad_lines_are_counted_and_skipped(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "feed.jsonl",
        frame(aggregate("AAPL", TS_MS)),
        '[{"ev":"A","sym":"MSFT"',  # truncated
        "",
        "   ",
        '{"ev":"A"}',
        frame(aggregate("MSFT", TS_MS, close=0.0), aggregate("NVDA", TS_MS + 1000)),
    )
    source = ReplayTickSource(path)

    batches = await collect(source)

    assert [[tick.symbol for tick in batch] for batch in batches] == [["AAPL"], ["NVDA"]]
    assert dict(source.rejected) == {"invalid_json": 1, "not_an_array": 1, "bad_value": 1}
    assert source.frames_read == 4  # blank lines are not frames


async def test_a_replay_that_ends_logs_its_totals_by_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_lines(
        tmp_path / "feed.jsonl",
        "{",
        "{",
        '{"ev":"A"}',
        frame(aggregate("AAPL", TS_MS), aggregate("MSFT", TS_MS, close=0.0)),
    )
    caplog.set_level(logging.INFO, logger="tickstock_server.feeds.replay")

    await collect(ReplayTickSource(path, speed=1000.0, sleep=FakeTime().sleep))

    assert [r.getMessage() for r in caplog.records if r.name == "tickstock_server.feeds.replay"] == [
        "Replay of feed.jsonl ended: 4 frames, 1 ticks, 4 rejected; bad_value 1; invalid_json 2; "
        "not_an_array 1"
    ]


async def test_paced_replay_sleeps_the_event_time_gaps_divided_by_the_speed(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "feed.jsonl",
        frame({"ev": "status", "status": "success", "message": "subscribed to: A.*"}),
        frame(aggregate("AAPL", TS_MS), aggregate("MSFT", TS_MS - 400)),
        frame(aggregate("AAPL", TS_MS + 1000)),
        frame(aggregate("MSFT", TS_MS + 800), aggregate("AAPL", TS_MS + 3000)),  # paced by its latest time
        frame(aggregate("NVDA", TS_MS + 2000)),  # behind the previous frame: released at once
    )
    fake = FakeTime()
    source = ReplayTickSource(
        path, speed=2.0, sleep=fake.sleep, clock_ns=fake.wall_ns, monotonic_ns=fake.monotonic_ns
    )

    batches = await collect(source)

    # Event-time offsets from the first frame's latest (TS_MS): 0, 1000, 3000, 2000 ms; at speed 2 they
    # are due 0, 0.5, 1.5, 1.0 s after the start, so the sleeps are 0, 0.5, 1.0 and 0 (already late).
    assert fake.sleeps_s == [0.0, 0.5, 1.0, 0.0]
    assert [len(batch) for batch in batches] == [2, 1, 2, 1]
    start_ns = WALL_NS + 5_000_000_000
    assert [{tick.received_ns for tick in batch} for batch in batches] == [
        {start_ns},
        {start_ns + 500_000_000},
        {start_ns + 1_500_000_000},
        {start_ns + 1_500_000_000},
    ]


async def test_paced_replay_keeps_the_ticks_except_their_received_time() -> None:
    fake = FakeTime()
    paced_source = ReplayTickSource(
        SAMPLE, speed=1000.0, sleep=fake.sleep, clock_ns=fake.wall_ns, monotonic_ns=fake.monotonic_ns
    )

    paced = [tick for batch in await collect(paced_source) for tick in batch]
    fast = [tick for batch in await collect(ReplayTickSource(SAMPLE)) for tick in batch]

    # The sample spans 300 s of event time: 0.3 s at speed 1000 in total.
    assert sum(fake.sleeps_s) == pytest.approx(0.299)
    assert [tick_key(tick) for tick in paced] == [tick_key(tick) for tick in fast]


def tick_key(tick: Tick) -> tuple[Any, ...]:
    return (
        tick.symbol,
        tick.price,
        tick.volume,
        tick.ts_ns,
        tick.vwap,
        tick.open_price,
        tick.accumulated_volume,
    )


@pytest.mark.parametrize("speed", [0.0, -1.0])
def test_non_positive_speed_is_refused(speed: float) -> None:
    with pytest.raises(ValueError, match="speed"):
        ReplayTickSource(SAMPLE, speed=speed)


def test_one_line_frame_is_recorded_verbatim() -> None:
    text = '[{"ev":"A", "sym":"AAPL"}]'  # not compact: kept byte for byte

    assert frame_line(text) == text


def test_multi_line_frame_is_recorded_compactly_and_parses_the_same() -> None:
    text = json.dumps([aggregate("AAPL", TS_MS), aggregate("MSFT", TS_MS)], indent=2)

    line = frame_line(text)

    assert "\n" not in line
    assert MassiveFrameParser().parse(line, 7) == MassiveFrameParser().parse(text, 7)


def test_multi_line_invalid_frame_is_recorded_as_one_rejected_line() -> None:
    parser = MassiveFrameParser()

    line = frame_line('[{"ev":"A",\n"sym":')

    assert "\n" not in line
    assert parser.parse(line, 7) == []
    assert dict(parser.rejected) == {"not_an_array": 1}  # a JSON string literal holding the frame


async def test_recording_replays_to_the_recorded_ticks(tmp_path: Path) -> None:
    frames = SAMPLE.read_text().splitlines()
    recorder = FrameRecorder(tmp_path / "rec" / "feed.jsonl")

    for text in frames:
        recorder.append(text)
    recorder.close()

    assert recorder.frames_written == 301
    assert (tmp_path / "rec" / "feed.jsonl").read_text().splitlines() == frames
    replayed = await collect(ReplayTickSource(tmp_path / "rec" / "feed.jsonl"))
    assert replayed == await collect(ReplayTickSource(SAMPLE))


async def test_recorder_flushes_within_its_interval_without_closing(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    recorder = FrameRecorder(path, flush_interval_s=0.01)

    recorder.append(frame(aggregate("AAPL", TS_MS)))
    unflushed = path.read_text()
    await asyncio.sleep(0.2)  # the flush timer (due after 0.01 s) fires before this sleep ends

    assert unflushed == ""
    assert path.read_text() == frame(aggregate("AAPL", TS_MS)) + "\n"
    recorder.close()


async def test_recorder_appends_to_an_existing_file_and_refuses_after_close(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "feed.jsonl", "[]")
    recorder = FrameRecorder(path)

    recorder.append(b"[1]")
    recorder.close()

    assert path.read_text() == "[]\n[1]\n"
    with pytest.raises(OSError, match="closed"):
        recorder.append("[2]")
