"""StreamEvents end to end over a real gRPC channel: status, filtering, batching, heartbeats, overflow."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from api_server import ApiServer, ServerFactory
from event_factories import make_event
from google.protobuf import duration_pb2

from tickstock.v1 import event_service_pb2, events_pb2
from tickstock_server.domain.events import Direction, EventType


def _request(**filter_fields: object) -> event_service_pb2.StreamEventsRequest:
    return event_service_pb2.StreamEventsRequest(
        filter=event_service_pb2.EventFilter(**filter_fields),  # type: ignore[arg-type]
        delivery=event_service_pb2.DeliveryOptions(max_batch_latency=duration_pb2.Duration(nanos=1_000_000)),
    )


async def _next_of(call: Any, kind: str) -> event_service_pb2.StreamEventsResponse:
    while (response := await call.read()) is not grpc.aio.EOF:
        if response.WhichOneof("payload") == kind:
            return response  # type: ignore[no-any-return]
    raise AssertionError(f"stream ended before a {kind}")


async def test_first_message_is_the_resolved_subscription(api: ApiServer) -> None:
    call = api.events_stub().StreamEvents(_request(symbols=["msft", "AAPL"]), metadata=api.metadata)

    first = await call.read()

    status = first.subscription_status
    assert list(status.symbols) == ["AAPL", "MSFT"]
    assert not status.all_symbols
    assert status.limits.open_streams == 1
    assert status.delivery.max_batch_size == 100
    assert status.start.epoch == "test-epoch"
    call.cancel()


async def test_symbol_filter_delivers_only_selected_symbols_in_seq_order(api: ApiServer) -> None:
    call = api.events_stub().StreamEvents(_request(symbols=["AAPL"]), metadata=api.metadata)
    await call.read()

    api.publish(make_event("AAPL", price=101), make_event("MSFT"), make_event("AAPL", price=102))
    batch = (await _next_of(call, "event_batch")).event_batch

    assert [(e.symbol, e.price, e.seq) for e in batch.events] == [("AAPL", 101.0, 1), ("AAPL", 102.0, 3)]
    assert batch.events[0].type == events_pb2.EVENT_TYPE_HIGH
    assert batch.events[0].high_low.significance_score == 42.0
    assert batch.resume_token.seq == 3
    assert batch.resume_token.epoch == "test-epoch"
    call.cancel()


async def test_type_and_direction_filters_apply(api: ApiServer) -> None:
    request = _request(event_types=[events_pb2.EVENT_TYPE_LOW], directions=[events_pb2.DIRECTION_DOWN])
    call = api.events_stub().StreamEvents(request, metadata=api.metadata)
    await call.read()

    api.publish(make_event("AAPL"), make_event("IBM", type=EventType.LOW, direction=Direction.DOWN))
    batch = (await _next_of(call, "event_batch")).event_batch

    assert [e.symbol for e in batch.events] == ["IBM"]
    call.cancel()


async def test_batches_hold_at_most_max_batch_size_events(api: ApiServer) -> None:
    request = _request()
    request.delivery.max_batch_size = 2
    call = api.events_stub().StreamEvents(request, metadata=api.metadata)
    await call.read()

    api.publish(*(make_event("AAPL", price=100 + i) for i in range(5)))
    sizes = [len((await _next_of(call, "event_batch")).event_batch.events) for _ in range(3)]

    assert sizes == [2, 2, 1]
    call.cancel()


async def test_idle_stream_gets_heartbeat_with_last_seq_and_feed_age(api: ApiServer) -> None:
    request = _request()
    request.delivery.heartbeat_interval.seconds = 1
    call = api.events_stub().StreamEvents(request, metadata=api.metadata)
    await call.read()
    api.publish(make_event("AAPL"))
    await _next_of(call, "event_batch")

    heartbeat = (await _next_of(call, "heartbeat")).heartbeat

    assert heartbeat.last_seq == 1
    assert heartbeat.feed_age.ToNanoseconds() == 1_500_000_000
    assert heartbeat.queue_depth == 0
    call.cancel()


async def test_queue_overflow_sends_drop_notice_then_resource_exhausted(
    start_api_server: ServerFactory,
) -> None:
    api = await start_api_server(queue_capacity=10)
    call = api.events_stub().StreamEvents(_request(), metadata=api.metadata)
    await call.read()

    # Published in one synchronous burst: the handler cannot drain the queue in between.
    api.publish(*(make_event("AAPL", price=100 + i) for i in range(15)))
    notice = (await _next_of(call, "drop_notice")).drop_notice
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call.read()

    assert notice.policy == event_service_pb2.SLOW_CONSUMER_POLICY_DISCONNECT
    assert (notice.first_dropped_seq, notice.last_dropped_seq, notice.dropped_count) == (11, 15, 5)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "resume after seq 0" in (raised.value.details() or "")


async def test_hub_close_sends_rotate_hint_then_ends_stream_ok(api: ApiServer) -> None:
    call = api.events_stub().StreamEvents(_request(), metadata=api.metadata)
    await call.read()
    api.publish(make_event("AAPL"))
    await _next_of(call, "event_batch")

    api.hub.close()
    hint = (await _next_of(call, "rotate_hint")).rotate_hint
    after = await call.read()

    assert hint.reason == event_service_pb2.ROTATE_REASON_SHUTDOWN
    assert hint.resume_token.seq == 1
    assert after is grpc.aio.EOF
    assert await call.code() == grpc.StatusCode.OK


async def test_connection_age_never_cuts_a_stream_before_its_rotation_hint(
    start_api_server: ServerFactory,
) -> None:
    # The connection gets GOAWAY after 1 s; the stream's own maximum age (3 s, jittered down by up to
    # 10 %) must still end it, with a rotation hint and OK, not with UNAVAILABLE "max connection age".
    api = await start_api_server(max_age_s=3.0, max_connection_age_s=1.0)
    call = api.events_stub().StreamEvents(_request(), metadata=api.metadata)
    await call.read()

    hint = (await _next_of(call, "rotate_hint")).rotate_hint
    after = await call.read()

    assert hint.reason == event_service_pb2.ROTATE_REASON_MAX_AGE
    assert after is grpc.aio.EOF
    assert await call.code() == grpc.StatusCode.OK


async def test_stream_limit_per_user_is_resource_exhausted(start_api_server: ServerFactory) -> None:
    api = await start_api_server(max_streams=1)
    first = api.events_stub().StreamEvents(_request(), metadata=api.metadata)
    await first.read()

    second = api.events_stub().StreamEvents(_request(), metadata=api.metadata)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await second.read()

    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    first.cancel()


async def test_cancelled_stream_unsubscribes(api: ApiServer) -> None:
    call = api.events_stub().StreamEvents(_request(), metadata=api.metadata)
    await call.read()
    assert len(api.hub) == 1

    call.cancel()
    for _ in range(100):
        if len(api.hub) == 0:
            break
        await asyncio.sleep(0.01)

    assert len(api.hub) == 0
