"""Two ingest shards and two gateways as real processes on real Redis and PostgreSQL.

The shards detect disjoint halves of the symbols and their events join one order in the Redis Stream,
which is the ground truth: a client that moves between gateways receives exactly the stored events its
filter selects; a shard that is SIGKILLed loses nothing silently (what it could not deliver is a gap
notice); and a replay split over two shards stores the same events, by event id, as one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from polling import eventually
from resuming_client import ResumingClient
from server_process import Started, free_port, run_admin, server_env, serving, started, topology_settings
from topology_streams import read_stream, stored_events

from tickstock.v1 import event_service_pb2, events_pb2
from tickstock_server.domain.shards import shard_of
from tickstock_server.feeds.synthetic import SyntheticTickSource
from tickstock_server.simulation.market import synthetic_symbols

FEED_SYMBOLS = 400
SYMBOLS = list(synthetic_symbols(FEED_SYMBOLS)[:200])
TYPES = {"high", "low", "trend", "surge"}


@dataclass
class Shards:
    shard_envs: list[dict[str, str]]
    shards: list[Started]
    gateway_ports: list[int]
    gateways: list[asyncio.subprocess.Process]
    prefix: str
    metadata: tuple[tuple[str, str], ...]


@contextlib.asynccontextmanager
async def _shards(pg_database_url: str, redis_url: str) -> AsyncIterator[Shards]:
    prefix = f"shards-{uuid.uuid4().hex[:8]}:"
    common = topology_settings(pg_database_url, redis_url, prefix)
    shard_envs = [
        server_env(
            0, TICKSTOCK_ROLE="ingest", TICKSTOCK_SHARD=f"{index}/2",
            TICKSTOCK_FEED__SYMBOLS=str(FEED_SYMBOLS), **common,
        )
        for index in range(2)
    ]  # fmt: skip
    ports = [free_port(), free_port()]
    async with contextlib.AsyncExitStack() as stack:
        shards = [await stack.enter_async_context(started(env)) for env in shard_envs]
        gateways = [
            await stack.enter_async_context(
                serving(server_env(port, TICKSTOCK_ROLE="gateway", **common), port)
            )
            for port in ports
        ]
        token = await run_admin("create-key", "--user", "alice", env=shard_envs[0])
        yield Shards(shard_envs, shards, ports, gateways, prefix, (("authorization", f"Bearer {token}"),))


@pytest.fixture
async def sharded(pg_database_url: str, redis_url: str) -> AsyncIterator[Shards]:
    async with _shards(pg_database_url, redis_url) as topology:
        yield topology


async def _read(
    topology: Shards, port: int, client: ResumingClient, **options: Any
) -> list[event_service_pb2.StreamEventsResponse]:
    """Stream `SYMBOLS` from the gateway on `port` (options: see `read_stream`)."""
    event_filter = event_service_pb2.EventFilter(symbols=SYMBOLS)
    return await read_stream(port, topology.metadata, client, event_filter, **options)


async def _stored(redis_url: str, prefix: str) -> list[events_pb2.Event]:
    """Every stored event of the log under `prefix`, in seq order."""
    return [events_pb2.Event.FromString(entry.encoded) for entry in await stored_events(redis_url, prefix)]


def _selected(events: list[events_pb2.Event], after: int, until: int) -> list[int]:
    return [
        e.seq
        for e in events
        if after < e.seq <= until
        and e.symbol in SYMBOLS
        and events_pb2.EventType.Name(e.type) != "EVENT_TYPE_PATTERN"
    ]


async def test_a_client_resumes_on_the_other_gateway_with_both_shards_events_exactly_once(
    sharded: Shards, redis_url: str
) -> None:
    client = ResumingClient()
    messages = await _read(sharded, sharded.gateway_ports[0], client, events=30, snapshot=True)
    chunks = [m.snapshot_chunk for m in messages if m.HasField("snapshot_chunk")]
    snapshot_symbols = {s.symbol for chunk in chunks for s in chunk.symbols}
    assert {shard_of(symbol, 2) for symbol in snapshot_symbols} == {0, 1}  # both shards answered
    await asyncio.sleep(2)  # events the client misses
    await _read(sharded, sharded.gateway_ports[1], client, events=30)

    assert client.first is not None and client.gaps == []
    stored = await _stored(redis_url, sharded.prefix)
    assert client.seqs == _selected(stored, client.first[1], client.seqs[-1])
    assert {shard_of(e.symbol, 2) for e in client.events} == {0, 1}


async def test_a_client_of_a_killed_gateway_resumes_on_the_other_with_both_shards_events_and_zero_loss(
    sharded: Shards, redis_url: str
) -> None:
    client = ResumingClient()
    await _read(sharded, sharded.gateway_ports[0], client, events=20)
    reading = asyncio.create_task(
        _read(sharded, sharded.gateway_ports[0], client, events=100_000, timeout_s=60)
    )
    await asyncio.sleep(0.5)  # the stream is open and delivering
    sharded.gateways[0].send_signal(signal.SIGKILL)
    with pytest.raises(grpc.aio.AioRpcError) as cut:
        await reading
    assert cut.value.code() is grpc.StatusCode.UNAVAILABLE
    await _read(sharded, sharded.gateway_ports[1], client, until="replay_completed")
    await _read(sharded, sharded.gateway_ports[1], client, events=20)

    assert client.first is not None and client.gaps == []
    stored = await _stored(redis_url, sharded.prefix)
    assert client.seqs == _selected(stored, client.first[1], client.seqs[-1])  # exactly once, in order
    assert {shard_of(e.symbol, 2) for e in client.events} == {0, 1}


async def test_a_killed_shard_restarts_and_what_it_could_not_deliver_is_a_gap_never_a_silent_loss(
    sharded: Shards, redis_url: str
) -> None:
    client = ResumingClient()
    await _read(sharded, sharded.gateway_ports[0], client, events=20)
    victim = sharded.shards[1]
    victim.process.send_signal(signal.SIGKILL)
    await victim.process.wait()
    async with started(sharded.shard_envs[1]):
        # Until the restarted shard's symbols have events again, and a few more.
        async def restarted_shard_delivered() -> bool:
            await _read(sharded, sharded.gateway_ports[1], client, events=10)
            after_kill = [e for e in client.events[20:] if shard_of(e.symbol, 2) == 1]
            return len(after_kill) >= 5

        await eventually(restarted_shard_delivered, 60, 0.1)

    assert client.first is not None
    stored = await _stored(redis_url, sharded.prefix)
    stored_seqs = {e.seq for e in stored}
    received = client.seqs
    assert len(received) == len(set(received))  # no duplicate
    assert received == _selected(stored, client.first[1], received[-1])  # every stored one, in order
    # The shard's unwritten events are a recorded hole: reported, with an upper bound, never silent.
    assert len(client.gaps) == 1
    gap = client.gaps[0]
    assert event_service_pb2.GapReason.Name(gap.reason) == "GAP_REASON_NOT_PERSISTED"
    assert gap.missed_count_is_upper_bound
    assert not stored_seqs & set(range(gap.from_seq, gap.to_seq + 1))
    assert received[0] < gap.from_seq <= gap.to_seq < received[-1]


async def _replay_file(path: Path, symbols: int, ticks: int) -> Path:
    """Massive per-second aggregates from the seeded synthetic market, as a recording holds them."""
    source = SyntheticTickSource(seed=7, symbols=symbols, rate=symbols, realtime=False, interval_s=1.0,
                                 max_ticks=ticks)  # fmt: skip
    lines = [json.dumps([_aggregate(tick) for tick in batch]) async for batch in source.ticks()]
    await asyncio.to_thread(path.write_text, "\n".join(lines) + "\n")
    return path


def _aggregate(tick: object) -> dict[str, object]:
    start_ms = tick.ts_ns // 1_000_000  # type: ignore[attr-defined]
    price = tick.price  # type: ignore[attr-defined]
    return {
        "ev": "A", "sym": tick.symbol, "v": tick.volume, "av": tick.volume,  # type: ignore[attr-defined]
        "op": price, "vw": price, "o": price, "c": price, "h": price, "l": price, "a": price, "z": 1,
        "s": start_ms, "e": start_ms + 1000,
    }  # fmt: skip


def _processed(env: dict[str, str]) -> float:
    """The process's ticks detected so far (0 until its metrics answer)."""
    url = f"http://127.0.0.1:{env['TICKSTOCK_METRICS__PORT']}/metrics"
    try:
        text = urllib.request.urlopen(url, timeout=5).read().decode()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("tickstock_ticks_processed_total"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def _replayed(
    envs: list[dict[str, str]], redis_url: str, prefix: str, ticks: int
) -> list[events_pb2.Event]:
    """The stored events once the processes of `envs` have detected all `ticks` of the replay."""
    async with contextlib.AsyncExitStack() as stack:
        processes = [await stack.enter_async_context(started(env)) for env in envs]

        async def all_processed() -> bool:
            counts = await asyncio.gather(*(asyncio.to_thread(_processed, env) for env in envs))
            return sum(counts) == ticks

        try:
            await eventually(all_processed, 90, 0.2)
        except TimeoutError as exc:
            raise AssertionError("\n".join(_tail(process) for process in processes)) from exc
    return await _stored(redis_url, prefix)


def _tail(process: Started) -> str:
    process.output.seek(0)
    return process.output.read()[-3000:].decode(errors="replace")


async def test_a_replay_split_over_two_shards_stores_the_events_of_one_process(
    pg_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    ticks = 60 * 240
    replay = await _replay_file(tmp_path / "session.jsonl", 60, ticks)

    def env(prefix: str, **shard: str) -> dict[str, str]:
        return server_env(
            0, TICKSTOCK_ROLE="ingest", TICKSTOCK_FEED__KIND="replay",
            TICKSTOCK_FEED__REPLAY__PATH=str(replay), **topology_settings(pg_database_url, redis_url, prefix),
            **shard,
        )  # fmt: skip

    one = await _replayed([env("one:")], redis_url, "one:", ticks)
    two = await _replayed(
        [env("two:", TICKSTOCK_SHARD="0/2"), env("two:", TICKSTOCK_SHARD="1/2")], redis_url, "two:", ticks
    )

    def detections(events: list[events_pb2.Event]) -> dict[str, bytes]:
        # Everything but the log's own stamps (seq, ingest and detection time).
        kept = {}
        for event in events:
            copy = events_pb2.Event()
            copy.CopyFrom(event)
            copy.ClearField("seq")
            copy.ClearField("ingest_time")
            copy.ClearField("detect_time")
            kept[event.event_id] = copy.SerializeToString()
        return kept

    assert len(one) > 100
    assert {shard_of(e.symbol, 2) for e in one} == {0, 1}
    assert detections(two) == detections(one)
    assert len(two) == len(one)  # no event twice
    for symbol in {e.symbol for e in one}:  # each symbol's events keep their order
        assert [e.event_id for e in two if e.symbol == symbol] == [
            e.event_id for e in one if e.symbol == symbol
        ]
