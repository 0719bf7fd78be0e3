"""A real server at DEBUG with payload logging never writes a key, a secret or a session token."""

from __future__ import annotations

import asyncio

import grpc
from server_process import free_port, run_admin, server_env, started, wait_serving

from tickstock.v1 import (
    auth_service_pb2,
    auth_service_pb2_grpc,
    event_service_pb2,
    event_service_pb2_grpc,
    universe_service_pb2,
    universe_service_pb2_grpc,
)


async def _calls(port: int, token: str, wrong: str) -> str:
    """Calls that succeed and fail with the key, a wrong secret and a session token; the session token."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        universes = universe_service_pb2_grpc.UniverseServiceStub(channel)
        good = (("authorization", f"Bearer {token}"),)
        await universes.ListSymbols(universe_service_pb2.ListSymbolsRequest(query="apple"), metadata=good)
        for _ in range(3):
            try:
                await universes.ListSymbols(
                    universe_service_pb2.ListSymbolsRequest(),
                    metadata=(("authorization", f"Bearer {wrong}"),),
                )
            except grpc.aio.AioRpcError as exc:
                assert exc.code() is grpc.StatusCode.UNAUTHENTICATED
        session = await auth_service_pb2_grpc.AuthServiceStub(channel).CreateSessionToken(
            auth_service_pb2.CreateSessionTokenRequest(), metadata=good
        )
        stream = event_service_pb2_grpc.EventServiceStub(channel).StreamEvents(
            event_service_pb2.StreamEventsRequest(), metadata=(("authorization", f"Bearer {session.token}"),)
        )
        async with asyncio.timeout(20):
            for _ in range(3):
                await stream.read()
        stream.cancel()
        return session.token


async def test_logs_at_debug_with_payloads_hold_no_key_secret_or_session_token(
    pg_database_url: str, redis_url: str
) -> None:
    port = free_port()
    env = server_env(
        port, TICKSTOCK_DATABASE_URL=pg_database_url, TICKSTOCK_REDIS_URL=redis_url,
        TICKSTOCK_LOG__LEVEL="DEBUG", TICKSTOCK_LOG__PAYLOADS="true",
    )  # fmt: skip
    async with started(env) as server:
        await wait_serving(port)
        token = await run_admin("create-key", "--user", "mallory", env=env)
        key_id, secret = token.removeprefix("tsk_").split("_", 1)
        wrong = f"tsk_{key_id}_{'Z' * len(secret)}"
        session = await _calls(port, token, wrong)
        await server.logged("ListSymbols")  # the payload log: what the test searches was written
        await server.logged(key_id)  # the failed authentications, by key id
        server.output.seek(0)
        written = server.output.read().decode(errors="replace")

    assert secret not in written
    assert wrong.rsplit("_", 1)[1] not in written
    assert session not in written
    assert session.rsplit(".", 1)[-1] not in written  # not even the token's signature part
