"""The Python client's event stream against the real server process, through a network that breaks:
server restarts and cut connections. It must deliver exactly the server's stored stream for its filter."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import grpc
from server_process import free_port, run_admin, server_env, serving
from tcp_proxy import TcpProxy

from tickstock.v1 import event_service_pb2, event_service_pb2_grpc, events_pb2
from tickstock_client import AsyncClient, Dropped, Event, EventFilter, EventType, Gap

RESTARTS = 3
CUTS = 50


async def stored_seqs(port: int, key: str, epoch: str, after: int, until: int) -> list[int]:
    """The seqs of highs and lows the server's log holds in (after, until]; fails on any gap notice."""
    seqs: list[int] = []
    request = event_service_pb2.StreamEventsRequest(
        filter=event_service_pb2.EventFilter(
            event_types=[events_pb2.EVENT_TYPE_HIGH, events_pb2.EVENT_TYPE_LOW]
        ),
        resume_token=event_service_pb2.ResumeToken(epoch=epoch, seq=after),
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = event_service_pb2_grpc.EventServiceStub(channel)
        call = stub.StreamEvents(request, metadata=[("authorization", f"Bearer {key}")], timeout=60)
        async for response in call:
            assert response.WhichOneof("payload") != "gap_notice", response
            seqs.extend(event.seq for event in response.event_batch.events)
            if seqs and seqs[-1] >= until:
                call.cancel()
                break
    return [seq for seq in seqs if seq <= until]


async def until_more(received: list[Event], count: int) -> None:
    """Wait until more than `count` events have arrived."""
    async with asyncio.timeout(30):
        while len(received) <= count:  # noqa: ASYNC110 - the reader fills a plain list
            await asyncio.sleep(0.02)


async def test_the_stream_survives_restarts_and_cut_connections_with_no_gap_or_duplicate(
    pg_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = server_env(
        port,
        TICKSTOCK_DATA_DIR=str(tmp_path),
        TICKSTOCK_DATABASE_URL=pg_database_url,
        TICKSTOCK_REDIS_URL=redis_url,
        TICKSTOCK_DELIVERY__STREAM_KEY_PREFIX=f"test:{port}:events:",
        # Ticks on the wall clock: a restarted server continues its epoch.
        TICKSTOCK_FEED__SESSION_CLOCK="false",
        TICKSTOCK_FEED__SYMBOLS="400",
    )
    proxy = TcpProxy(port)
    await proxy.start()
    received: list[Event] = []
    notices: list[Gap | Dropped] = []
    rng = random.Random(7)

    async with serving(env, port):
        key = await run_admin("create-key", "--user", "client", env=env)
    client = AsyncClient(f"127.0.0.1:{proxy.port}", api_key=key)
    stream = client.stream_events(EventFilter(event_types=(EventType.HIGH, EventType.LOW)))

    async def read() -> None:
        async for item in stream:
            if isinstance(item, Event):
                received.append(item)
            elif isinstance(item, Gap | Dropped):
                notices.append(item)

    reader = asyncio.create_task(read())
    try:
        for restart in range(RESTARTS + 1):
            async with serving(env, port):  # SIGTERM at the end: the stream gets its rotation hint
                for _ in range(CUTS // (RESTARTS + 1) + (restart < CUTS % (RESTARTS + 1))):
                    # Cut a live stream: one that has delivered since the last cut.
                    await until_more(received, len(received))
                    await asyncio.sleep(rng.uniform(0, 0.2))
                    proxy.cut()
                # The stream is live again after the last cut.
                await until_more(received, len(received) + 19)
        async with serving(env, port):
            seqs = [event.seq for event in received]
            (epoch,) = {event.epoch for event in received}
            stored = await stored_seqs(port, key, epoch, seqs[0] - 1, seqs[-1])
    finally:
        stream.close()
        reader.cancel()
        await client.close()
        await proxy.close()

    # Nearly every cut interrupted a live stream (one can fall just as gRPC swaps connections), and
    # every interruption was followed by a resume.
    assert proxy.hits >= CUTS * 9 // 10
    assert notices == []
    assert len(seqs) == len(set(seqs)), "an event arrived twice"
    assert seqs == stored
    assert stream.reconnects >= proxy.hits - 1  # close() may cut once more, after the reading
    assert {event.type for event in received} <= {EventType.HIGH, EventType.LOW}
