"""A replay through the real process: its rejections in /metrics, its feed age, and a restart."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import grpc
from server_process import free_port, run_admin, server_env, serving

from tickstock.v1 import event_service_pb2, event_service_pb2_grpc

SAMPLE = Path(__file__).parents[1] / "data" / "massive_sample.jsonl"
BAD_LINES = {
    "invalid_json": ["{", '[{"ev":"A"', "not json"],
    "not_an_array": ['"a string"', '{"ev":"A"}'],
    "not_an_object": ["[1]", '[null, "x"]'],  # one per element: 1 + 2
    "unknown_event": ['[{"ev":"XQ","sym":"AAPL"}]'],
    "missing_field": ['[{"sym":"AAPL"}]', '[{"ev":"A","sym":"AAPL"}]'],
    "bad_value": [
        '[{"ev":"A","sym":"AAPL","v":1,"av":1,"op":1,"vw":1,"o":1,"c":-5,"h":1,"l":1,"a":1,"z":1,'
        '"s":1767711600000,"e":1767711601000}]'
    ],
}
EXPECTED_REJECTED = {
    "invalid_json": 3,
    "not_an_array": 2,
    "not_an_object": 3,
    "unknown_event": 1,
    "missing_field": 2,
    "bad_value": 1,
    "invalid_tick": 0,
}


def _replay_file(path: Path) -> Path:
    sample = SAMPLE.read_text().splitlines()
    bad = [line for lines in BAD_LINES.values() for line in lines]
    # The bad lines spread among the good ones; the order of the good ones is kept.
    mixed = [line for index, good in enumerate(sample) for line in (good, *bad[index : index + 1])]
    path.write_text("\n".join(mixed) + "\n")
    return path


def _metrics(env: Mapping[str, str]) -> dict[str, float]:
    url = f"http://127.0.0.1:{env['TICKSTOCK_METRICS__PORT']}/metrics"
    # Without the role label every series of the all-in-one process carries.
    text = urllib.request.urlopen(url, timeout=5).read().decode().replace(',role="all"', "")
    text = text.replace('{role="all"}', "")
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("tickstock_")
    }


async def _replayed(env: Mapping[str, str], ticks: int) -> dict[str, float]:
    """/metrics once every tick of the file went through the detectors (a guard of 60 s, not a timing)."""
    async with asyncio.timeout(60):
        while True:
            values = await asyncio.to_thread(_metrics, env)
            if values.get("tickstock_ticks_processed_total") == ticks:
                return values
            await asyncio.sleep(0.2)


async def _first_messages(
    port: int, token: str, resume: event_service_pb2.ResumeToken | None, count: int
) -> list[event_service_pb2.StreamEventsResponse]:
    request = event_service_pb2.StreamEventsRequest(resume_token=resume)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stream = event_service_pb2_grpc.EventServiceStub(channel).StreamEvents(
            request, metadata=(("authorization", f"Bearer {token}"),)
        )
        messages = []
        async for message in stream:
            messages.append(message)
            if len(messages) == count:
                break
        stream.cancel()
        return messages


async def test_replay_counts_rejections_by_reason_and_a_restart_begins_a_new_epoch(tmp_path: Path) -> None:
    # Arrange: the recorded sample with 12 bad lines among its frames; embedded Redis and PostgreSQL.
    replay = _replay_file(tmp_path / "feed.jsonl")
    ticks = sum(line.count('"ev":"A"') for line in SAMPLE.read_text().splitlines())
    port = free_port()
    env = server_env(
        port,
        TICKSTOCK_DATA_DIR=str(tmp_path / "data"),
        TICKSTOCK_FEED__KIND="replay",
        TICKSTOCK_FEED__REPLAY__PATH=str(replay),
    )

    # Act: replay once, note where the log ended; start again on the same data directory.
    async with serving(env, port):
        token = await run_admin("create-key", "--user", "rita", env=env)
        first = await _replayed(env, ticks)
        [status] = await _first_messages(port, token, None, 1)
    before = status.subscription_status.start
    async with serving(env, port):
        await _replayed(env, ticks)
        resumed = await _first_messages(port, token, before, 2)

    # Assert: every bad line counted under its reason; the feed age is since arrival, not event time
    # (the sample's events are from January 2026).
    rejected = {
        key.split('"')[1]: count
        for key, count in first.items()
        if key.startswith("tickstock_feed_rejected_total{")
    }
    assert rejected == EXPECTED_REJECTED
    assert first["tickstock_feed_age_seconds"] < 3600
    assert before.seq > 0
    # The restarted replay is a new epoch: the pre-restart token gets EPOCH_CHANGED, not the same
    # events a second time under new seqs.
    assert resumed[0].subscription_status.start.epoch != before.epoch
    assert resumed[1].gap_notice.reason == event_service_pb2.GAP_REASON_EPOCH_CHANGED
