"""Streams and stored events of the multi-process topology tests (split and sharded).

A client streams from one gateway's port through a `ResumingClient`, which keeps the resume token,
the received seqs and gaps across calls; the Redis Stream read back whole is the ground truth.
"""

from __future__ import annotations

import asyncio

import grpc
import redis.asyncio as aioredis
from resuming_client import ResumingClient

from tickstock.v1 import event_service_pb2, event_service_pb2_grpc
from tickstock_server.bus.event_follower import RedisEventFollower
from tickstock_server.domain.log_entry import LogEntry


async def read_stream(
    port: int,
    metadata: tuple[tuple[str, str], ...],
    client: ResumingClient,
    event_filter: event_service_pb2.EventFilter,
    *,
    events: int = 0,
    until: str = "",
    timeout_s: float = 30,
    snapshot: bool = False,
) -> list[event_service_pb2.StreamEventsResponse]:
    """Stream from the gateway on `port`, resuming at `client`'s token, until `events` more events
    arrived or a message of kind `until`; return the messages."""
    request = event_service_pb2.StreamEventsRequest(filter=event_filter, include_snapshot=snapshot)
    if client.token is not None:
        request.resume_token.epoch, request.resume_token.seq = client.token
    messages = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = event_service_pb2_grpc.EventServiceStub(channel).StreamEvents(request, metadata=metadata)
        wanted = len(client.seqs) + events
        async with asyncio.timeout(timeout_s):
            while (response := await call.read()) is not grpc.aio.EOF:
                messages.append(response)
                kind = client.take(response)
                if kind == until or (events and len(client.seqs) >= wanted):
                    break
        call.cancel()
    return messages


async def stored_events(redis_url: str, prefix: str, after: int = 0, until: int = 2**62) -> list[LogEntry]:
    """The stored events of the log under `prefix` with after < seq <= until, in seq order."""
    async with aioredis.from_url(redis_url) as redis_client:
        follower = RedisEventFollower(redis_client, key_prefix=prefix)
        await follower.open()
        return await follower.read(after, until, limit=10_000_000)
