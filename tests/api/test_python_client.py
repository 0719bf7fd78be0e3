"""The Python client against the in-process server: typed events, resume across streams and rotations,
errors as exceptions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from api_server import ApiServer, ServerFactory
from event_factories import make_event

from tickstock_client import (
    AsyncClient,
    Client,
    Event,
    EventFilter,
    EventType,
    InvalidArgumentError,
    ReplayCompleted,
    StreamItem,
    UnauthenticatedError,
)


@pytest.fixture
async def client(api: ApiServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(f"127.0.0.1:{api.port}", api_key=api.token) as client:
        yield client


async def take(stream: AsyncIterator[StreamItem], count: int) -> list[StreamItem]:
    items = []
    async with asyncio.timeout(10):
        async for item in stream:
            items.append(item)
            if len(items) == count:
                break
    return items


async def wait_subscribed(api: ApiServer, count: int = 1) -> None:
    async with asyncio.timeout(5):
        while len(api.hub) < count:  # noqa: ASYNC110 - the hub has no event to wait on
            await asyncio.sleep(0.01)


async def test_stream_events_yields_typed_events_of_the_filter(api: ApiServer, client: AsyncClient) -> None:
    stream = client.stream_events(EventFilter(symbols=("AAPL",)))
    connected_before = stream.connected
    reading = asyncio.create_task(take(aiter(stream), 2))
    await wait_subscribed(api)

    api.publish(make_event("MSFT"), make_event("AAPL", price=101.0), make_event("AAPL", price=102.0))
    events = await reading

    assert [(e.symbol, e.price, e.type) for e in events] == [  # type: ignore[union-attr]
        ("AAPL", 101.0, EventType.HIGH),
        ("AAPL", 102.0, EventType.HIGH),
    ]
    assert all(isinstance(e, Event) and e.epoch == "test-epoch" for e in events)
    assert stream.resume_token == events[-1].resume_token  # type: ignore[union-attr]
    assert (connected_before, stream.connected) == (False, True)
    stream.close()
    assert stream.connected is False


async def test_a_new_stream_resumes_exactly_after_the_last_event_received(
    api: ApiServer, client: AsyncClient
) -> None:
    first = client.stream_events()
    reading = asyncio.create_task(take(aiter(first), 2))
    await wait_subscribed(api)
    api.publish(make_event("AAPL", price=1.0), make_event("AAPL", price=2.0))
    await reading
    first.close()
    api.publish(make_event("AAPL", price=3.0), make_event("AAPL", price=4.0))

    second = client.stream_events(resume_token=first.resume_token)
    items = await take(aiter(second), 3)

    assert [e.price for e in items if isinstance(e, Event)] == [3.0, 4.0]
    assert items[-1] == ReplayCompleted(replayed_count=2)
    second.close()


async def test_a_rotation_hint_is_followed_without_loss_or_duplicate(start_api_server: ServerFactory) -> None:
    api = await start_api_server(max_age_s=1.0)
    async with AsyncClient(f"127.0.0.1:{api.port}", api_key=api.token) as client:
        stream = client.stream_events(EventFilter(symbols=("AAPL",)))
        received: list[float] = []

        async def read() -> None:
            async for item in stream:
                if isinstance(item, Event):
                    received.append(item.price)
                    if len(received) == 40:
                        return

        reading = asyncio.create_task(read())
        for price in range(40):  # 4 s of events: at least three rotations at a 1 s stream age
            await wait_subscribed(api)
            api.publish(make_event("AAPL", price=float(price)))
            await asyncio.sleep(0.1)
        async with asyncio.timeout(15):
            await reading

    assert received == [float(price) for price in range(40)]
    assert stream.reconnects >= 3


async def test_a_bad_filter_raises_with_its_field_violations(client: AsyncClient) -> None:
    stream = client.stream_events(EventFilter(symbols=("not a ticker",)))

    with pytest.raises(InvalidArgumentError) as raised:
        await take(aiter(stream), 1)

    assert [v.field for v in raised.value.field_violations] == ["filter.symbols[0]"]


async def test_a_wrong_key_raises_unauthenticated(api: ApiServer) -> None:
    async with AsyncClient(f"127.0.0.1:{api.port}", api_key="tsk_000000000000_" + "x" * 43) as client:
        with pytest.raises(UnauthenticatedError):
            await client.create_session_token()


async def test_a_session_token_is_issued_for_the_keys_user(client: AsyncClient) -> None:
    token = await client.create_session_token()

    assert token.user == "alice"
    assert token.token.startswith("tss_")
    assert token.token not in repr(token)


async def test_the_blocking_client_streams_the_same_events(api: ApiServer) -> None:
    def read_two() -> list[StreamItem]:
        with Client(f"127.0.0.1:{api.port}", api_key=api.token) as client:
            stream = client.stream_events(EventFilter(symbols=("AAPL",)))
            items = []
            for item in stream:
                items.append(item)
                if len(items) == 2:
                    stream.close()
                    return items
        return items

    reading = asyncio.get_running_loop().run_in_executor(None, read_two)
    await wait_subscribed(api)
    api.publish(make_event("AAPL", price=7.0), make_event("AAPL", price=8.0))
    items = await asyncio.wait_for(reading, 10)

    assert [e.price for e in items] == [7.0, 8.0]  # type: ignore[union-attr]
