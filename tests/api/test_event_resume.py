"""StreamEvents resume, replay, gaps, snapshots, rotation and conflation over a real gRPC channel."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import grpc
import pytest
from api_server import ApiServer, ServerFactory
from event_factories import make_event
from event_stream_calls import read_until, stream_request

from tickstock.v1 import event_service_pb2, events_pb2
from tickstock_server.domain.events import Direction, MarketStatus
from tickstock_server.domain.snapshot import SymbolSnapshot
from tickstock_server.ports.events import LogPoint, SnapshotView


def _event_seqs(messages: list[event_service_pb2.StreamEventsResponse]) -> list[int]:
    return [e.seq for m in messages if m.HasField("event_batch") for e in m.event_batch.events]


async def test_resume_replays_exactly_the_missed_selected_events_then_goes_live(api: ApiServer) -> None:
    api.publish(make_event("AAPL"), make_event("MSFT"), make_event("AAPL"), make_event("AAPL"))

    call = api.events_stub().StreamEvents(
        stream_request(("test-epoch", 1), symbols=["AAPL"]), metadata=api.metadata
    )
    messages = await read_until(call, "replay_completed")
    api.publish(make_event("AAPL"))
    live = await read_until(call, "event_batch")

    status = messages[0].subscription_status
    assert status.replaying
    assert status.start.seq == 4
    assert _event_seqs(messages) == [3, 4]
    done = messages[-1].replay_completed
    assert (done.replayed_count, done.resume_token.seq) == (2, 4)
    assert _event_seqs(live) == [5]
    call.cancel()


async def test_replay_older_than_memory_comes_from_the_history(start_api_server: ServerFactory) -> None:
    api = await start_api_server(log_capacity=100)
    api.publish(*(make_event("AAPL", price=100 + i) for i in range(250)))

    call = api.events_stub().StreamEvents(stream_request(("test-epoch", 10)), metadata=api.metadata)
    messages = await read_until(call, "replay_completed")

    assert _event_seqs(messages) == list(range(11, 251))
    assert not any(m.HasField("gap_notice") for m in messages)
    call.cancel()


async def test_aged_out_history_is_a_gap_notice_with_counts(start_api_server: ServerFactory) -> None:
    api = await start_api_server(log_capacity=100)
    api.publish(*(make_event("AAPL", price=100 + i) for i in range(250)))
    api.history._entries = {seq: e for seq, e in api.history._entries.items() if seq > 120}  # trimmed store

    call = api.events_stub().StreamEvents(stream_request(("test-epoch", 10)), metadata=api.metadata)
    messages = await read_until(call, "replay_completed")

    gaps = [m.gap_notice for m in messages if m.HasField("gap_notice")]
    assert [(g.from_seq, g.to_seq, g.missed_count, g.reason) for g in gaps] == [
        (11, 120, 110, event_service_pb2.GAP_REASON_AGED_OUT)
    ]
    assert _event_seqs(messages) == list(range(121, 251))
    call.cancel()


async def test_token_of_another_epoch_gets_epoch_changed_then_the_whole_log(api: ApiServer) -> None:
    api.publish(make_event("AAPL"), make_event("AAPL"))

    call = api.events_stub().StreamEvents(stream_request(("old-epoch", 99)), metadata=api.metadata)
    messages = await read_until(call, "replay_completed")

    gap = next(m.gap_notice for m in messages if m.HasField("gap_notice"))
    assert gap.reason == event_service_pb2.GAP_REASON_EPOCH_CHANGED
    assert _event_seqs(messages) == [1, 2]
    call.cancel()


async def test_token_ahead_of_the_log_is_invalid_argument(api: ApiServer) -> None:
    api.publish(make_event("AAPL"))
    call = api.events_stub().StreamEvents(stream_request(("test-epoch", 5)), metadata=api.metadata)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call.read()

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "resume_token.seq" in (raised.value.details() or "")


async def test_universes_and_own_watchlists_form_the_symbol_set(api: ApiServer) -> None:
    request = stream_request(universes=["chips"], watchlist_ids=["wl-1"], symbols=["IBM"])
    call = api.events_stub().StreamEvents(request, metadata=api.metadata)
    status = (await call.read()).subscription_status

    api.publish(*(make_event(symbol) for symbol in ("AAPL", "AMD", "TSLA", "IBM", "JPM", "NVDA")))
    batch = (await read_until(call, "event_batch"))[-1].event_batch

    assert list(status.symbols) == ["AMD", "IBM", "NVDA", "TSLA"]
    assert [e.symbol for e in batch.events] == ["AMD", "TSLA", "IBM", "NVDA"]
    call.cancel()


class _Snapshots:
    """Two symbols' state; as of the log's end when taken, or as of `as_of` (another process's view)."""

    def __init__(self, as_of: LogPoint | None = None) -> None:
        self._as_of = as_of

    async def snapshot(self, symbols: Any = None) -> SnapshotView:
        states = [
            SymbolSnapshot(
                symbol=symbol,
                last_price=10.0,
                last_tick_ns=1_000_000_000,
                session_high=11.0,
                session_low=9.0,
                trend_direction=Direction.UP,
                trend_score=0.4,
                surge_direction=None,
                market_status=MarketStatus.REGULAR,
            )
            for symbol in ("AAPL", "MSFT")
        ]
        return SnapshotView([s for s in states if symbols is None or s.symbol in symbols], self._as_of)


async def test_snapshot_of_selected_symbols_comes_before_live_events(start_api_server: ServerFactory) -> None:
    api = await start_api_server(snapshots=_Snapshots())
    api.publish(make_event("AAPL"))
    request = stream_request(symbols=["MSFT"])
    request.include_snapshot = True

    call = api.events_stub().StreamEvents(request, metadata=api.metadata)
    messages = await read_until(call, "snapshot_chunk")

    chunk = messages[-1].snapshot_chunk
    assert [s.symbol for s in chunk.symbols] == ["MSFT"]
    assert chunk.symbols[0].trend_direction == events_pb2.DIRECTION_UP
    assert chunk.symbols[0].surge_direction == events_pb2.DIRECTION_UNSPECIFIED
    assert chunk.symbols[0].market_status == events_pb2.MARKET_STATUS_REGULAR
    assert chunk.last
    assert chunk.as_of.seq == 1
    call.cancel()


async def test_a_snapshot_behind_the_log_is_followed_by_the_events_after_it(
    start_api_server: ServerFactory,
) -> None:
    # A gateway's snapshot comes from the ingest as of seq 1; its log is at 3 when the stream starts.
    api = await start_api_server(snapshots=_Snapshots(LogPoint("test-epoch", 1)))
    api.publish(make_event("MSFT"), make_event("AAPL"), make_event("MSFT", price=12.0))
    request = stream_request(symbols=["MSFT"])
    request.include_snapshot = True

    call = api.events_stub().StreamEvents(request, metadata=api.metadata)
    messages = await read_until(call, "event_batch")

    assert [message.WhichOneof("payload") for message in messages][-2:] == ["snapshot_chunk", "event_batch"]
    assert messages[-2].snapshot_chunk.as_of.seq == 1
    assert [(e.seq, e.symbol) for e in messages[-1].event_batch.events] == [(3, "MSFT")]
    call.cancel()


async def test_max_stream_age_sends_rotate_hint_with_a_resume_token(start_api_server: ServerFactory) -> None:
    api = await start_api_server(max_age_s=0.2)
    call = api.events_stub().StreamEvents(stream_request(), metadata=api.metadata)
    await call.read()
    api.publish(make_event("AAPL"))

    messages = await read_until(call, "rotate_hint")

    hint = messages[-1].rotate_hint
    assert hint.reason == event_service_pb2.ROTATE_REASON_MAX_AGE
    assert (hint.resume_token.epoch, hint.resume_token.seq) == ("test-epoch", 1)
    assert await call.read() is grpc.aio.EOF
    assert await call.code() == grpc.StatusCode.OK


async def test_conflate_policy_reports_coalesced_events_in_band(start_api_server: ServerFactory) -> None:
    api = await start_api_server(queue_capacity=10)
    request = stream_request()
    request.delivery.slow_consumer_policy = event_service_pb2.SLOW_CONSUMER_POLICY_CONFLATE
    call = api.events_stub().StreamEvents(request, metadata=api.metadata)
    status = (await call.read()).subscription_status

    # 30 events of three symbols in one burst: the queue keeps the newest per symbol.
    api.publish(*(make_event(("AAPL", "MSFT", "IBM")[i % 3], price=100 + i) for i in range(30)))
    messages = await read_until(call, "event_batch")

    assert status.delivery.slow_consumer_policy == event_service_pb2.SLOW_CONSUMER_POLICY_CONFLATE
    notice = next(m.drop_notice for m in messages if m.HasField("drop_notice"))
    delivered = messages[-1].event_batch.events
    assert notice.policy == event_service_pb2.SLOW_CONSUMER_POLICY_CONFLATE
    assert notice.total_dropped + len(delivered) == 30
    seqs = [e.seq for e in delivered]
    # Compaction keeps the newest entry per symbol, so the last event of each symbol always survives.
    assert seqs == sorted(seqs)
    assert seqs[-3:] == [28, 29, 30]
    call.cancel()


async def test_random_disconnects_lose_and_repeat_nothing(start_api_server: ServerFactory) -> None:
    api = await start_api_server(log_capacity=50)
    rng = random.Random(7)
    symbols = ["AAPL", "MSFT", "IBM", "NVDA"]
    token: tuple[str, int] | None = None
    received: list[int] = []
    for _ in range(30):
        api.publish(
            *(make_event(rng.choice(symbols), price=100 + rng.random()) for _ in range(rng.randint(0, 40)))
        )
        call = api.events_stub().StreamEvents(
            stream_request(token, symbols=["AAPL", "NVDA"]), metadata=api.metadata
        )
        await call.read()
        if token is not None:
            for message in await read_until(call, "replay_completed"):
                if message.HasField("event_batch"):
                    received += [e.seq for e in message.event_batch.events]
                    token = ("test-epoch", message.event_batch.resume_token.seq)
                elif message.HasField("replay_completed"):
                    token = ("test-epoch", message.replay_completed.resume_token.seq)
        else:
            token = start = ("test-epoch", api.log.last_seq)
        call.cancel()
        await asyncio.sleep(0)

    expected = [
        entry.seq
        for entry in api.history._entries.values()
        if entry.fields.symbol in {"AAPL", "NVDA"} and entry.seq > start[1]
    ]
    assert received == sorted(expected)
    assert received
