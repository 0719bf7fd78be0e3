"""StreamEvents streams the client cancels leave nothing of their subscription in a reference cycle: a
gateway with streams connecting and leaving all the time frees each one at once, where a cycle would
wait for the collector's next thaw of the frozen heap (see `tests/cyclic_garbage.py`)."""

from __future__ import annotations

from api_server import ServerFactory
from cyclic_garbage import cyclic_garbage
from event_factories import make_event
from event_stream_calls import stream_request
from polling import eventually

from tickstock_server.delivery.filters import EventFilter
from tickstock_server.delivery.hub import Subscriber
from tickstock_server.delivery.stall_guard import StallGuard

STREAMS = 20


async def test_streams_the_client_cancels_leave_no_subscription_in_a_reference_cycle(
    start_api_server: ServerFactory,
) -> None:
    api = await start_api_server(max_streams=STREAMS)
    with cyclic_garbage(Subscriber, StallGuard, EventFilter) as cycles:
        calls = [
            api.events_stub().StreamEvents(stream_request(symbols=["AAPL", "MSFT"]), metadata=api.metadata)
            for _ in range(STREAMS)
        ]
        for call in calls:
            await call.read()  # the subscription status: the stream is subscribed
        api.publish(*(make_event("AAPL", price=100.0 + i) for i in range(3)))
        for call in calls:
            assert (await call.read()).WhichOneof("payload") == "event_batch"
            call.cancel()
        await eventually(lambda: len(api.hub) == 0, 20.0, 0.05)
        del calls
    assert cycles == []
