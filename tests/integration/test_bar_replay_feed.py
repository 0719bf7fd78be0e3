"""The bars feed over real PostgreSQL: a stored day replayed twice through the detectors gives the
same events, on the bars' clock."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import math
from collections.abc import Mapping, Sequence

import asyncpg
import grpc
import pytest
from factories import NS_PER_S, ns_at
from google.protobuf.json_format import MessageToDict
from server_process import free_port, run_admin, server_env, serving, topology_settings

from tickstock.v1 import event_service_pb2, event_service_pb2_grpc, events_pb2
from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.domain.events import Event, EventType
from tickstock_server.feeds.bar_replay import BarReplayTickSource
from tickstock_server.market_calendars import xnys_calendar
from tickstock_server.storage.migrate import apply_migrations
from tickstock_server.storage.minute_history import PgMinuteBarHistory

OPEN_NS = ns_at("2025-01-06T14:30:00")  # Monday 09:30 ET
DAY_START_NS, DAY_END_NS = ns_at("2025-01-06T05:00:00"), ns_at("2025-01-07T05:00:00")
SYMBOLS = ("AAPL", "MSFT", "NVDA")


def _day_of_bars() -> list[tuple[str, dt.datetime, float, float, float, float, int]]:
    """390 regular-session minutes per symbol: a drifting wave with a volume burst every 50 minutes."""
    rows = []
    for index, symbol in enumerate(SYMBOLS):
        for minute in range(390):
            base = 100.0 * (index + 1) + 5 * math.sin(minute / (20 + 5 * index)) + 0.03 * minute
            close = base + 0.4 * math.sin(minute)
            start = dt.datetime.fromtimestamp((OPEN_NS + minute * 60 * NS_PER_S) / NS_PER_S, tz=dt.UTC)
            volume = 2_000 + (60_000 if minute % 50 == 49 else 0)
            rows.append((symbol, start, base, max(base, close) + 0.3, min(base, close) - 0.3, close, volume))
    return rows


@pytest.fixture
async def history(pg_pool: asyncpg.Pool) -> PgMinuteBarHistory:
    await apply_migrations(pg_pool)
    await pg_pool.executemany(
        "INSERT INTO ohlcv_1min (symbol, ts, open, high, low, close, volume)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        _day_of_bars(),
    )
    # A bar the next day, outside the replayed range.
    await pg_pool.execute("INSERT INTO ohlcv_1min VALUES ('AAPL', '2025-01-07 15:00+00', 1, 1, 1, 1, 1)")
    return PgMinuteBarHistory(pg_pool)


async def _replay(history: PgMinuteBarHistory, symbols: Sequence[str] | None) -> tuple[list[Event], int]:
    async def chosen() -> Sequence[str] | None:
        return symbols

    engine = DetectionEngine(calendar=xnys_calendar())
    source = BarReplayTickSource(
        history, symbols=chosen, start_ns=DAY_START_NS, end_ns=DAY_END_NS, window_minutes=15
    )
    events: list[Event] = []
    async for batch in source.ticks():
        events += engine.process_batch(batch)
    return events, engine.last_tick_ns


async def test_a_day_replayed_twice_gives_identical_events(history: PgMinuteBarHistory) -> None:
    first, last_tick_ns = await _replay(history, None)
    second, _ = await _replay(history, None)

    assert first, "the stored day produced no events"
    assert {event.type for event in first} >= {EventType.HIGH, EventType.LOW}
    assert [dataclasses.asdict(e) for e in first] == [dataclasses.asdict(e) for e in second]
    # The market clock is the bars' time: the last close tick of the day, 15:59:45 ET.
    assert last_tick_ns == ns_at("2025-01-06T20:59:45")


async def test_chosen_symbols_only_are_replayed(history: PgMinuteBarHistory) -> None:
    events, _ = await _replay(history, ["MSFT"])

    assert events
    assert {event.symbol for event in events} == {"MSFT"}


# --- through the real server and its event stream ---


async def _log_position(
    stub: event_service_pb2_grpc.EventServiceStub, metadata: tuple[tuple[str, str], ...]
) -> event_service_pb2.ResumeToken:
    call = stub.StreamEvents(event_service_pb2.StreamEventsRequest(), metadata=metadata)
    try:
        first = await call.read()
    finally:
        call.cancel()
    assert isinstance(first, event_service_pb2.StreamEventsResponse)
    return first.subscription_status.start


async def _served_events(env: Mapping[str, str], port: int) -> list[dict[str, object]]:
    """The detector events of one server run of the bars feed, from the start of its log epoch."""
    async with serving(env, port):
        token = await run_admin("create-key", "--user", "replayer", env=env)
        metadata = (("authorization", f"Bearer {token}"),)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = event_service_pb2_grpc.EventServiceStub(channel)
            # The replay runs as fast as possible; it is over once the log stops growing.
            position = await _log_position(stub, metadata)
            while True:
                await asyncio.sleep(1.0)
                newer = await _log_position(stub, metadata)
                if newer.seq == position.seq and newer.seq > 0:
                    break
                position = newer
            call = stub.StreamEvents(
                event_service_pb2.StreamEventsRequest(
                    resume_token=event_service_pb2.ResumeToken(epoch=position.epoch, seq=0)
                ),
                metadata=metadata,
            )
            events: list[dict[str, object]] = []
            async for message in call:
                if message.HasField("event_batch"):
                    events += [
                        _content(event)
                        for event in message.event_batch.events
                        if event.type != events_pb2.EVENT_TYPE_PATTERN
                    ]
                if message.HasField("replay_completed"):
                    call.cancel()
                    break
    return events


def _content(event: events_pb2.Event) -> dict[str, object]:
    """The event without what differs between runs by design: seq, id and the wall-clock stamps."""
    content = MessageToDict(event)
    for varying in ("seq", "eventId", "ingestTime", "detectTime"):
        content.pop(varying, None)
    return content


async def test_bars_feed_of_the_server_streams_the_same_events_on_every_run(
    history: PgMinuteBarHistory, pg_database_url: str, redis_url: str
) -> None:
    port = free_port()
    env = server_env(
        port,
        **topology_settings(pg_database_url, redis_url, f"test:bars-feed:{port}:"),
        TICKSTOCK_FEED__KIND="bars",
        TICKSTOCK_FEED__BARS__FIRST_DAY="2025-01-06",
        TICKSTOCK_FEED__BARS__SYMBOLS="AAPL,MSFT,NVDA",
    )

    first = await _served_events(env, port)
    second = await _served_events(env, port)

    assert first, "the replayed day produced no events"
    assert first == second
    assert {event["symbol"] for event in first} == set(SYMBOLS)
    # Event times are the bars' (the replayed Monday), not the wall clock's.
    assert {str(event["eventTime"])[:10] for event in first} == {"2025-01-06"}
