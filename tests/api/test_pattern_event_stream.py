"""Pattern events on StreamEvents: selected by type, symbol and confidence, resumed like any event."""

from __future__ import annotations

import grpc
import pytest
from api_server import ApiServer
from event_factories import make_event
from event_stream_calls import read_until, stream_request
from factories import make_pattern

from tickstock.v1 import event_service_pb2, events_pb2
from tickstock_server.app.pattern_events import PatternEventLog
from tickstock_server.domain.market_calendar import MarketCalendar

PATTERNS = events_pb2.EVENT_TYPE_PATTERN


def _pattern_events(api: ApiServer) -> PatternEventLog:
    """Appends patterns to the test server's log as the server does: hub, then history."""
    return PatternEventLog(
        api.log,
        hub=api.hub,
        persist=api.history.add,
        calendar=MarketCalendar.every_weekday(),
        remember=1_000,
    )


def _events(messages: list[event_service_pb2.StreamEventsResponse]) -> list[events_pb2.Event]:
    return [e for m in messages if m.HasField("event_batch") for e in m.event_batch.events]


async def test_a_pattern_filter_receives_the_appended_pattern_with_its_details(api: ApiServer) -> None:
    call = api.events_stub().StreamEvents(
        stream_request(event_types=[PATTERNS], symbols=["AAPL"], min_pattern_confidence=0.7),
        metadata=api.metadata,
    )
    await read_until(call, "subscription_status")
    patterns = _pattern_events(api)

    api.publish(make_event("AAPL"))  # a HIGH: another type
    patterns.append(make_pattern("msft-1", symbol="MSFT"))  # another symbol
    patterns.append(make_pattern("weak-1", confidence=0.6))  # below the minimum confidence
    patterns.append(make_pattern("aapl-1", flow_id="flow-1"))
    [event] = _events(await read_until(call, "event_batch"))

    assert (event.seq, event.event_id, event.symbol, event.type) == (4, "aapl-1", "AAPL", PATTERNS)
    assert event.WhichOneof("details") == "pattern"
    assert (event.pattern.pattern_type, event.pattern.confidence, event.pattern.flow_id) == (
        "Bull_Flag",
        0.8,
        "flow-1",
    )
    call.cancel()


async def test_a_resume_after_pattern_events_replays_each_missed_one_exactly_once(api: ApiServer) -> None:
    patterns = _pattern_events(api)
    call = api.events_stub().StreamEvents(stream_request(event_types=[PATTERNS]), metadata=api.metadata)
    await read_until(call, "subscription_status")
    patterns.append(make_pattern("p-1"))
    first = _events(await read_until(call, "event_batch"))
    call.cancel()
    resume = ("test-epoch", first[-1].seq)

    api.publish(make_event("AAPL"))
    patterns.append(make_pattern("p-2", symbol="NVDA"))
    patterns.append(make_pattern("p-1"))  # the producer sends p-1 again: still one event
    patterns.append(make_pattern("p-3", symbol="IBM"))
    resumed = api.events_stub().StreamEvents(
        stream_request(resume, event_types=[PATTERNS]), metadata=api.metadata
    )
    replayed = await read_until(resumed, "replay_completed")
    patterns.append(make_pattern("p-4"))
    live = _events(await read_until(resumed, "event_batch"))

    assert [(e.seq, e.event_id) for e in first] == [(1, "p-1")]
    assert [(e.seq, e.event_id) for e in _events(replayed)] == [(3, "p-2"), (4, "p-3")]
    assert replayed[-1].replay_completed.replayed_count == 2
    assert [(e.seq, e.event_id) for e in live] == [(5, "p-4")]
    assert not any(m.HasField("gap_notice") for m in replayed)
    resumed.cancel()


@pytest.mark.parametrize("value", [-0.1, 1.5])
async def test_a_pattern_confidence_outside_0_to_1_is_invalid_argument(api: ApiServer, value: float) -> None:
    call = api.events_stub().StreamEvents(stream_request(min_pattern_confidence=value), metadata=api.metadata)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call.read()

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "filter.min_pattern_confidence" in (raised.value.details() or "")


async def test_a_preset_keeps_the_pattern_type_and_confidence(api: ApiServer) -> None:
    stub = api.events_stub()
    preset = event_service_pb2.FilterPreset(
        name="patterns",
        filter=event_service_pb2.EventFilter(event_types=[PATTERNS], min_pattern_confidence=0.75),
    )
    await stub.SaveFilterPreset(
        event_service_pb2.SaveFilterPresetRequest(preset=preset), metadata=api.metadata
    )

    listed = await stub.ListFilterPresets(event_service_pb2.ListFilterPresetsRequest(), metadata=api.metadata)

    [saved] = listed.presets
    assert list(saved.filter.event_types) == [PATTERNS]
    assert saved.filter.min_pattern_confidence == 0.75
