"""A real `tickstock-server`: `revoke-key` ends the key's open stream with UNAUTHENTICATED within 5 s."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from server_process import free_port, run_admin, server_env, serving

from tickstock.v1 import event_service_pb2, event_service_pb2_grpc

REVOCATION_BOUND_S = 5.0
"""The documented bound (docs/api.md, Authentication)."""
SLACK_S = 2.0
"""For the admin command's own start-up and a loaded test machine."""


async def _read_until_ended(call: grpc.aio.UnaryStreamCall[object, object]) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        while True:
            await call.read()
    return raised.value.code()


async def test_revoke_key_ends_an_open_event_stream_unauthenticated(
    pg_database_url: str, redis_url: str
) -> None:
    port = free_port()
    env = server_env(port, TICKSTOCK_DATABASE_URL=pg_database_url, TICKSTOCK_REDIS_URL=redis_url)
    async with serving(env, port):
        token = await run_admin("create-key", "--user", "mallory", env=env)
        key_id = token.split("_")[1]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = event_service_pb2_grpc.EventServiceStub(channel).StreamEvents(
                event_service_pb2.StreamEventsRequest(), metadata=(("authorization", f"Bearer {token}"),)
            )
            await call.read()  # the subscription status: the stream is open

            await run_admin("revoke-key", key_id, env=env)
            code = await asyncio.wait_for(_read_until_ended(call), REVOCATION_BOUND_S + SLACK_S)

    assert code == grpc.StatusCode.UNAUTHENTICATED
