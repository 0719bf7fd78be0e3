"""A client killed and resumed 100 times, across a server restart, receives exactly its filter's events.

Runs the real service in process (synthetic feed, detection, event log persisted to a real Redis Stream,
gRPC): the Redis Stream is the ground truth the received sequence numbers are checked against.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr
from resuming_client import ResumingClient

from tickstock.v1 import event_service_pb2, event_service_pb2_grpc, events_pb2
from tickstock_server.app.backends import open_database
from tickstock_server.app.serve import serve
from tickstock_server.bus.event_follower import RedisEventFollower
from tickstock_server.config import (
    DeliverySettings,
    GrpcSettings,
    MetricsSettings,
    Settings,
    WebSettings,
)
from tickstock_server.feed_settings import FeedSettings
from tickstock_server.storage.api_keys import PgApiKeyStore

SYMBOL_COUNT = 100
TYPES = {"high", "low", "trend"}


@contextlib.asynccontextmanager
async def _running(settings: Settings) -> AsyncIterator[int]:
    stop = asyncio.Event()
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(settings, stop, on_ready=ready.set_result))
    try:
        yield await asyncio.wait_for(ready, 60)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


async def _symbols(settings: Settings) -> list[str]:
    # The synthetic market's tickers: the first few of its universe, whatever their names.
    from tickstock_server.simulation.market import synthetic_symbols

    return list(synthetic_symbols(settings.feed.symbols)[:SYMBOL_COUNT])


def _request(symbols: list[str], token: tuple[str, int] | None) -> event_service_pb2.StreamEventsRequest:
    request = event_service_pb2.StreamEventsRequest(
        filter=event_service_pb2.EventFilter(
            symbols=symbols,
            event_types=[events_pb2.EVENT_TYPE_HIGH, events_pb2.EVENT_TYPE_LOW, events_pb2.EVENT_TYPE_TREND],
        )
    )
    if token is not None:
        request.resume_token.epoch, request.resume_token.seq = token
    return request


async def _session(
    port: int, metadata: Any, client: ResumingClient, symbols: list[str], rng: random.Random
) -> None:
    """Open a stream, read a few messages, then die abruptly (cancel or channel close)."""
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    call = event_service_pb2_grpc.EventServiceStub(channel).StreamEvents(
        _request(symbols, client.token), metadata=metadata
    )
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(rng.uniform(0.02, 0.3)):
            for _ in range(rng.randint(1, 6)):
                response = await call.read()
                if response is grpc.aio.EOF:
                    break
                client.take(response)
    if rng.random() < 0.5:
        call.cancel()
    await channel.close(grace=None)


@pytest.mark.timeout(300)
async def test_client_killed_and_resumed_100_times_gets_exactly_its_events(
    pg_database_url: str, redis_url: str, tmp_path: Any
) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    settings = Settings(
        data_dir=tmp_path,
        redis_url=SecretStr(redis_url),
        database_url=SecretStr(pg_database_url),
        grpc=GrpcSettings(host="127.0.0.1", port=0, shutdown_grace_s=1.0),
        # Ticks on the wall clock: a feed whose history continues across the restart (the session clock
        # would start the synthetic day again, and with it a new epoch).
        feed=FeedSettings(symbols=200, rate_per_s=4000, session_clock=False),
        delivery=DeliverySettings(stream_key_prefix=prefix, log_capacity=500),
        metrics=MetricsSettings(enabled=False),
        web=WebSettings(enabled=False),
    )
    async with open_database(settings) as pool:
        token = (await PgApiKeyStore(pool).create("load")).token
    metadata = (("authorization", f"Bearer {token}"),)
    symbols = await _symbols(settings)
    client = ResumingClient()
    rng = random.Random(20261124)

    for run in range(2):  # the server restarts half-way: resume must work through the Redis Stream
        async with _running(settings) as port:
            for _ in range(50):
                await _session(port, metadata, client, symbols, rng)
                await asyncio.sleep(rng.uniform(0, 0.1))  # events go by while the client is away
            if run == 1:
                # A last, patient session collects everything up to the end of the replay.
                async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                    call = event_service_pb2_grpc.EventServiceStub(channel).StreamEvents(
                        _request(symbols, client.token), metadata=metadata
                    )
                    while (response := await call.read()) is not grpc.aio.EOF:
                        client.take(response)
                        if response.WhichOneof("payload") == "replay_completed":
                            break
                    call.cancel()

    assert client.first is not None and client.token is not None
    assert client.token[0] == client.first[0], "the epoch survived the restart"
    async with aioredis.from_url(redis_url) as redis_client:
        follower = RedisEventFollower(redis_client, key_prefix=prefix)
        await follower.open()
        stored = await follower.read(client.first[1], client.token[1], limit=10_000_000)
    assert [e.seq for e in stored] == list(range(client.first[1] + 1, client.token[1] + 1))
    expected = [e.seq for e in stored if e.fields.symbol in symbols and e.fields.type in TYPES]
    assert len(expected) > 50, "the run must produce enough selected events to mean something"
    assert client.seqs == expected
    assert client.gaps == []
