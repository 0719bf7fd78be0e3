"""StreamEvents bounds over a real gRPC channel: limits in the status, the replay limit, stalled clients."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from api_server import ApiServer, ServerFactory
from event_factories import make_event
from event_stream_calls import read_until, stream_request
from polling import eventually

from tickstock.v1 import event_service_pb2
from tickstock_server.delivery.hub import EndReason

# A guard against a hang, not a measured duration: the stall bound of these servers is 0.5 s.
STALL_GUARD_S = 20.0
STALL_BYTES = 16 * 1024 * 1024


async def test_the_status_states_the_replay_and_stall_limits(start_api_server: ServerFactory) -> None:
    api = await start_api_server(max_replay_events=1234, stall_timeout_s=2.5)
    call = api.events_stub().StreamEvents(stream_request(), metadata=api.metadata)

    limits = (await call.read()).subscription_status.limits

    assert limits.max_replay_events == 1234
    assert (limits.replay_events_per_second, limits.replay_burst_events) == (1_000_000, 1_000_000)
    assert limits.stall_timeout.ToMilliseconds() == 2500
    call.cancel()


async def test_a_made_up_epoch_replays_only_the_newest_events_and_reports_the_rest(
    start_api_server: ServerFactory,
) -> None:
    api = await start_api_server(max_replay_events=100, log_capacity=50)
    api.publish(*(make_event("AAPL", price=100 + i) for i in range(250)))

    call = api.events_stub().StreamEvents(stream_request(("made-up", 0)), metadata=api.metadata)
    messages = await read_until(call, "replay_completed")

    gaps = [m.gap_notice for m in messages if m.HasField("gap_notice")]
    assert [(g.reason, g.from_seq, g.to_seq, g.missed_count) for g in gaps] == [
        (event_service_pb2.GAP_REASON_EPOCH_CHANGED, 0, 0, 0),
        (event_service_pb2.GAP_REASON_REPLAY_LIMIT, 1, 150, 150),
    ]
    seqs = [e.seq for m in messages if m.HasField("event_batch") for e in m.event_batch.events]
    assert seqs == list(range(151, 251))
    assert messages[-1].replay_completed.replayed_count == 100
    call.cancel()


async def _publish_more_than_the_transport_holds(api: ApiServer) -> None:
    """Publish bursts of events until far more than the client library and HTTP/2 buffer (a few MB)."""
    published_bytes = 0
    price = 100.0
    while published_bytes < STALL_BYTES:
        api.publish(*(make_event("AAPL", price=(price := price + 0.01)) for _ in range(500)))
        published_bytes += sum(
            len(entry.encoded) for entry in api.log.read(api.log.last_seq - 500, api.log.last_seq, 500)
        )
        await asyncio.sleep(0.002)


async def _slot_freed(api: ApiServer) -> None:
    await eventually(lambda: api.hub.open_streams("alice") == 0, timeout_s=STALL_GUARD_S)


async def test_a_disconnect_client_that_stops_reading_loses_its_slot_to_its_next_stream(
    start_api_server: ServerFactory,
) -> None:
    # Arrange: one stream per user; a client that reads the status and then nothing.
    api = await start_api_server(max_streams=1, queue_capacity=1000, stall_timeout_s=0.5)
    request = stream_request()
    request.delivery.max_batch_size = 1000
    stalled = api.events_stub().StreamEvents(request, metadata=api.metadata)
    await stalled.read()

    # Act: events pile up in the transport and the queue; the server gives up on the client.
    await _publish_more_than_the_transport_holds(api)
    await _slot_freed(api)
    call = api.events_stub().StreamEvents(stream_request(), metadata=api.metadata)
    status = (await call.read()).subscription_status

    # Assert: the next stream of the same user is served; the stalled one ended with SLOW_CONSUMER.
    assert status.limits.open_streams == 1
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        while await stalled.read() is not grpc.aio.EOF:
            pass
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "resume from the last token received" in (raised.value.details() or "")
    call.cancel()


async def test_a_stalled_conflate_stream_ended_by_the_server_frees_its_slot(
    start_api_server: ServerFactory,
) -> None:
    # Arrange: a CONFLATE stream may stall while it runs; its client reads nothing.
    api = await start_api_server(max_streams=1, queue_capacity=1000, stall_timeout_s=0.5)
    request = stream_request()
    request.delivery.slow_consumer_policy = event_service_pb2.SLOW_CONSUMER_POLICY_CONFLATE
    stalled = api.events_stub().StreamEvents(request, metadata=api.metadata)
    await stalled.read()
    await _publish_more_than_the_transport_holds(api)
    still_open = api.hub.open_streams("alice")

    # Act: the server ends it (its maximum age); the rotation hint cannot reach the client.
    api.hub.end_all(EndReason.MAX_AGE)
    await _slot_freed(api)
    call = api.events_stub().StreamEvents(stream_request(), metadata=api.metadata)
    status = (await call.read()).subscription_status

    # Assert
    assert still_open == 1
    assert status.limits.open_streams == 1
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        while await stalled.read() is not grpc.aio.EOF:
            pass
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    call.cancel()
