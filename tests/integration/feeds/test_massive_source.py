import asyncio
import contextlib
import json
import logging
import random
import re
from pathlib import Path
from typing import Any

import pytest
from factories import REGULAR_TS_NS
from fake_massive import FakeMassiveServer, Session, abort, close_normally, drop, dumps, send, status

from tickstock_server.domain.tick import Tick
from tickstock_server.errors import FeedAuthenticationError
from tickstock_server.feeds.massive import MassiveTickSource
from tickstock_server.feeds.replay import ReplayTickSource

TS_MS = REGULAR_TS_NS // 1_000_000  # 2026-01-06 10:00:00 ET in epoch milliseconds
RECEIVED_NS = 1_800_000_000_000_000_000
TIMEOUT_S = 10.0


def aggregate(sym: str, end_ms: int, close: float = 100.0) -> dict[str, Any]:
    return {"ev": "A", "sym": sym, "v": 100, "av": 5000, "op": 99.5, "vw": close, "o": close, "c": close,
            "h": close, "l": close, "a": 99.8, "z": 50, "s": end_ms - 1000, "e": end_ms}  # fmt: skip


def a_frame(sym: str, end_ms: int, close: float = 100.0) -> str:
    return dumps([aggregate(sym, end_ms, close)])


def source_for(server: FakeMassiveServer, **overrides: Any) -> MassiveTickSource:
    options: dict[str, Any] = {
        "host": server.host,
        "secure": False,
        "subscriptions": ("A.*", "T.MSFT", "Q.NVDA"),
        "reconnect_initial_s": 0.01,
        "reconnect_max_s": 0.1,
        "clock_ns": lambda: RECEIVED_NS,
    }
    options.update(overrides)
    return MassiveTickSource(options.pop("api_key", "test-key"), **options)


async def take(source: MassiveTickSource, batches: int) -> list[list[Tick]]:
    """The first `batches` batches; then the iterator is closed (websocket and recording too)."""
    taken: list[list[Tick]] = []
    async with asyncio.timeout(TIMEOUT_S), contextlib.aclosing(source.ticks()) as stream:
        async for batch in stream:
            taken.append(batch)
            if len(taken) == batches:
                break
    return taken


def symbols(batches: list[list[Tick]]) -> list[list[str]]:
    return [[tick.symbol for tick in batch] for batch in batches]


async def test_aggregate_trade_and_quote_frames_arrive_as_ticks() -> None:
    frames = [
        a_frame("aapl", TS_MS, close=242.66),
        dumps([{"ev": "T", "sym": "MSFT", "x": 4, "i": "1", "z": 3, "p": 428.55, "s": 150, "t": TS_MS + 5}]),
        dumps([{"ev": "Q", "sym": "NVDA", "bp": 188.2, "bs": 3, "ap": 188.3, "as": 5, "t": TS_MS + 9}]),
    ]
    async with FakeMassiveServer([Session([send(*frames)])]) as server:
        source = source_for(server)

        batches = await take(source, 3)

    assert batches == [
        [
            Tick(
                symbol="AAPL",
                price=242.66,
                volume=100,
                ts_ns=REGULAR_TS_NS,
                received_ns=RECEIVED_NS,
                vwap=99.8,
                open_price=99.5,
                accumulated_volume=5000,
            )
        ],
        [
            Tick(
                symbol="MSFT",
                price=428.55,
                volume=150,
                ts_ns=REGULAR_TS_NS + 5_000_000,
                received_ns=RECEIVED_NS,
            )
        ],
        [
            Tick(
                symbol="NVDA",
                price=188.25,
                volume=0,
                ts_ns=REGULAR_TS_NS + 9_000_000,
                received_ns=RECEIVED_NS,
            )
        ],
    ]
    (connection,) = server.connections
    assert connection.path == "/stocks"
    assert connection.auth_params == ["test-key"]
    assert connection.topics() == {"A.*", "T.MSFT", "Q.NVDA"}
    assert dict(source.statuses) == {"success": 3}  # one subscription confirmation per topic
    assert (source.frames_received, source.ticks_parsed, source.reconnects) == (4, 3, 0)


async def test_rejected_api_key_raises_unauthenticated_promptly() -> None:
    async with FakeMassiveServer() as server:
        source = source_for(server, api_key="wrong-key")

        with pytest.raises(FeedAuthenticationError, match="authentication failed"):
            await take(source, 1)

    assert len(server.connections) == 1  # not retried
    assert source.reconnects == 0


async def test_dropped_connections_are_reopened_and_resubscribed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tickstock_server.feeds.massive")
    sessions = [
        Session([send(a_frame("AAPL", TS_MS)), drop(1011)]),
        Session([send(a_frame("AAPL", TS_MS + 1000)), abort()]),
        Session([send(a_frame("AAPL", TS_MS + 2000)), close_normally()]),
        Session([send(a_frame("AAPL", TS_MS + 3000))]),
    ]
    async with FakeMassiveServer(sessions) as server:
        source = source_for(server)

        batches = await take(source, 4)

    assert [batch[0].ts_ns for batch in batches] == [
        REGULAR_TS_NS + offset_s * 1_000_000_000 for offset_s in range(4)
    ]
    assert [connection.topics() for connection in server.connections] == [{"A.*", "T.MSFT", "Q.NVDA"}] * 4
    assert [connection.auth_params for connection in server.connections] == [["test-key"]] * 4
    assert source.reconnects == 3
    # Every connection worked, so the backoff restarts at its initial delay each time.
    assert reconnect_warnings(caplog) == [(0.01, 1)] * 3


def reconnect_warnings(caplog: pytest.LogCaptureFixture) -> list[tuple[float, int]]:
    """(delay in seconds, attempt) of each reconnect warning."""
    found = []
    for record in caplog.records:
        match = re.fullmatch(
            r"Reconnecting to the Massive feed \S+ in ([\d.]+) s \(attempt (\d+)\)", record.getMessage()
        )
        if match:
            assert record.levelno == logging.WARNING
            found.append((float(match[1]), int(match[2])))
    return found


async def test_failing_connections_back_off_exponentially_up_to_the_maximum(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tickstock_server.feeds.massive")
    sessions = [Session(drop_on_subscribe=True)] * 5 + [Session([send(a_frame("AAPL", TS_MS))])]
    async with FakeMassiveServer(sessions) as server:
        source = source_for(server, reconnect_initial_s=0.01, reconnect_max_s=0.05)

        batches = await take(source, 1)

    assert symbols(batches) == [["AAPL"]]
    # 0.01 doubling: 0.01, 0.02, 0.04, then capped at 0.05
    assert reconnect_warnings(caplog) == [(0.01, 1), (0.02, 2), (0.04, 3), (0.05, 4), (0.05, 5)]
    assert len(server.connections) == 6


async def test_jitter_keeps_each_delay_between_half_and_all_of_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="tickstock_server.feeds.massive")
    sessions = [Session(drop_on_subscribe=True)] * 4 + [Session([send(a_frame("AAPL", TS_MS))])]
    async with FakeMassiveServer(sessions) as server:
        source = source_for(
            server, reconnect_initial_s=0.02, reconnect_max_s=1.0, jitter_rng=random.Random(7)
        )

        await take(source, 1)

    delays_s = [delay_s for delay_s, _ in reconnect_warnings(caplog)]
    assert len(delays_s) == 4
    for attempt, delay_s in enumerate(delays_s):
        full_s = 0.02 * 2**attempt
        assert full_s / 2 - 0.005 <= delay_s <= full_s + 0.005  # the log rounds to 0.01 s


async def test_malformed_frames_are_counted_and_skipped() -> None:
    frames = [
        "not json",
        '{"ev":"A"}',
        dumps([aggregate("MSFT", TS_MS, close=-1.0), aggregate("AAPL", TS_MS), {"ev": "LULD", "T": "AAPL"}]),
        status("slow_consumer", "falling behind"),
        a_frame("NVDA", TS_MS + 1000),
    ]
    async with FakeMassiveServer([Session([send(*frames)])]) as server:
        source = source_for(server)

        batches = await take(source, 2)

    assert symbols(batches) == [["AAPL"], ["NVDA"]]
    assert dict(source.rejected) == {"invalid_json": 1, "not_an_array": 1, "bad_value": 1, "unknown_event": 1}
    assert dict(source.statuses) == {"success": 3, "slow_consumer": 1}


async def test_recorded_session_replays_to_the_same_ticks(tmp_path: Path) -> None:
    record_path = tmp_path / "recordings" / "session.jsonl"
    frames = [
        a_frame("AAPL", TS_MS, close=242.5),
        "not json",
        dumps([aggregate("MSFT", TS_MS + 1000, close=428.0), aggregate("NVDA", TS_MS + 1000, close=0.0)]),
        json.dumps([aggregate("TSLA", TS_MS + 2000, close=412.0)], indent=1),  # a frame with line breaks
    ]
    async with FakeMassiveServer([Session([send(*frames)])]) as server:
        live_source = source_for(server, record_path=record_path)
        live = [tick for batch in await take(live_source, 3) for tick in batch]

    replay_source = ReplayTickSource(record_path)
    replayed = [tick async for batch in replay_source.ticks() for tick in batch]

    assert [tick.symbol for tick in live] == ["AAPL", "MSFT", "TSLA"]
    assert replayed == [replace_received(tick, tick.ts_ns) for tick in live]
    assert dict(replay_source.rejected) == dict(live_source.rejected) == {"invalid_json": 1, "bad_value": 1}
    assert len(record_path.read_text().splitlines()) == 5  # the subscription confirmation and 4 frames


def replace_received(tick: Tick, received_ns: int) -> Tick:
    return Tick(
        symbol=tick.symbol,
        price=tick.price,
        volume=tick.volume,
        ts_ns=tick.ts_ns,
        received_ns=received_ns,
        vwap=tick.vwap,
        open_price=tick.open_price,
        accumulated_volume=tick.accumulated_volume,
    )


async def test_cancelling_the_consumer_closes_the_websocket_and_leaves_no_task() -> None:
    async with FakeMassiveServer([Session([send(a_frame("AAPL", TS_MS))])]) as server:
        source = source_for(server)
        first = asyncio.Event()

        async def consume() -> None:
            async for _batch in source.ticks():
                first.set()

        consumer = asyncio.create_task(consume())
        async with asyncio.timeout(TIMEOUT_S):
            await first.wait()
            consumer.cancel()
            with pytest.raises(asyncio.CancelledError):
                await consumer

            # The source awaited the closing handshake before the consumer finished.
            assert server.connections[0].closed.is_set()
            assert [task for task in asyncio.all_tasks() if task.get_name() == "massive-feed"] == []


async def test_slow_consumer_gets_every_frame_through_a_full_queue() -> None:
    frames = [a_frame("AAPL", TS_MS + index * 1000) for index in range(50)]
    async with FakeMassiveServer([Session([send(*frames)])]) as server:
        source = source_for(server, queue_frames=2)
        received: list[int] = []
        async with asyncio.timeout(TIMEOUT_S), contextlib.aclosing(source.ticks()) as stream:
            async for batch in stream:
                received.append(batch[0].ts_ns)
                if len(received) == 1:
                    # Hold the first batch until the server has written everything: the reader blocks
                    # on the full queue meanwhile instead of dropping frames.
                    await asyncio.sleep(0.2)
                if len(received) == 50:
                    break

    assert received == [REGULAR_TS_NS + index * 1_000_000_000 for index in range(50)]
    assert source.reconnects == 0


async def test_unwritable_recording_path_raises_before_connecting(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a directory")
    async with FakeMassiveServer() as server:
        source = source_for(server, record_path=tmp_path / "taken" / "session.jsonl")

        with pytest.raises(OSError):
            await take(source, 1)

    assert server.connections == []


def test_empty_api_key_is_refused() -> None:
    with pytest.raises(ValueError, match="api_key"):
        MassiveTickSource("")
