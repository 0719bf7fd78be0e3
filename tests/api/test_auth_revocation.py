"""Revoked keys end their open streams and lose their cached successes at the revocation watch's check.

The watch's periodic loop is not running here: each test calls `check()` itself, so nothing depends on
how long anything takes.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from api_server import ApiServer, ServerFactory
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from polling import eventually

from tickstock.v1 import (
    auth_service_pb2,
    auth_service_pb2_grpc,
    event_service_pb2,
    pattern_service_pb2,
)

Metadata = tuple[tuple[str, str], ...]


def _bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),)


async def _ended_with(call: Any) -> grpc.StatusCode:
    """Read the stream until it ends; its status code."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        while True:
            await call.read()
    return raised.value.code()


def _reason(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    return info.reason


async def test_revoking_a_key_ends_its_open_event_stream_unauthenticated(api: ApiServer) -> None:
    # Arrange
    issued = await api.keys.create("bob")
    call = api.events_stub().StreamEvents(
        event_service_pb2.StreamEventsRequest(), metadata=_bearer(issued.token)
    )
    await call.read()  # the subscription status: the stream is open
    await api.keys.revoke(issued.key_id)

    # Act
    await api.auth.revocations.check()

    # Assert
    assert await _ended_with(call) == grpc.StatusCode.UNAUTHENTICATED
    await eventually(lambda: api.hub.open_streams("bob") == 0)
    assert api.auth.revocations.watched_streams == 0


async def test_the_revoked_stream_reports_the_unauthenticated_reason(api: ApiServer) -> None:
    # Arrange
    issued = await api.keys.create("bob")
    call = api.events_stub().StreamEvents(
        event_service_pb2.StreamEventsRequest(), metadata=_bearer(issued.token)
    )
    await call.read()
    await api.keys.revoke(issued.key_id)

    # Act
    await api.auth.revocations.check()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        while True:
            await call.read()

    # Assert
    assert _reason(raised.value) == "UNAUTHENTICATED"
    assert "revoked" in (raised.value.details() or "")


async def test_a_session_token_stream_ends_when_its_key_is_revoked(api: ApiServer) -> None:
    # Arrange
    issued = await api.keys.create("bob")
    session = await auth_service_pb2_grpc.AuthServiceStub(api.channel).CreateSessionToken(
        auth_service_pb2.CreateSessionTokenRequest(), metadata=_bearer(issued.token)
    )
    call = api.events_stub().StreamEvents(
        event_service_pb2.StreamEventsRequest(), metadata=_bearer(session.token)
    )
    await call.read()
    await api.keys.revoke(issued.key_id)

    # Act
    await api.auth.revocations.check()

    # Assert
    assert await _ended_with(call) == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("rpc", ["StreamPatterns", "StreamAlerts"])
async def test_pattern_and_alert_streams_of_a_revoked_key_end_unauthenticated(
    start_api_server: ServerFactory, rpc: str
) -> None:
    # Arrange
    api: ApiServer = await start_api_server(patterns=True)
    issued = await api.keys.create("bob")
    request = (
        pattern_service_pb2.StreamPatternsRequest()
        if rpc == "StreamPatterns"
        else pattern_service_pb2.StreamAlertsRequest()
    )
    call = getattr(api.patterns_stub(), rpc)(request, metadata=_bearer(issued.token))
    await eventually(lambda: api.auth.revocations.watched_streams == 1)
    await api.keys.revoke(issued.key_id)

    # Act
    await api.auth.revocations.check()

    # Assert
    assert await _ended_with(call) == grpc.StatusCode.UNAUTHENTICATED


async def test_streams_of_other_keys_keep_running(api: ApiServer) -> None:
    # Arrange
    revoked = await api.keys.create("bob")
    kept_call = api.events_stub().StreamEvents(event_service_pb2.StreamEventsRequest(), metadata=api.metadata)
    revoked_call = api.events_stub().StreamEvents(
        event_service_pb2.StreamEventsRequest(), metadata=_bearer(revoked.token)
    )
    await kept_call.read()
    await revoked_call.read()
    await api.keys.revoke(revoked.key_id)

    # Act
    await api.auth.revocations.check()
    ended = await _ended_with(revoked_call)

    # Assert
    assert ended == grpc.StatusCode.UNAUTHENTICATED
    assert api.auth.revocations.watched_streams == 1
    assert api.hub.open_streams("alice") == 1
    kept_call.cancel()


async def test_a_cached_key_is_refused_for_new_calls_after_the_check(api: ApiServer) -> None:
    # Arrange: a call caches the key's success
    issued = await api.keys.create("bob")
    presets = api.events_stub().ListFilterPresets
    await presets(event_service_pb2.ListFilterPresetsRequest(), metadata=_bearer(issued.token))
    await api.keys.revoke(issued.key_id)

    # Act
    await api.auth.revocations.check()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await presets(event_service_pb2.ListFilterPresetsRequest(), metadata=_bearer(issued.token))

    # Assert
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_one_check_asks_the_store_once_for_every_key_in_use(api: ApiServer) -> None:
    # Arrange: two streams of one key and a cached success of another
    other = await api.keys.create("bob")
    calls = [
        api.events_stub().StreamEvents(event_service_pb2.StreamEventsRequest(), metadata=api.metadata)
        for _ in range(2)
    ]
    for call in calls:
        await call.read()
    await api.events_stub().ListFilterPresets(
        event_service_pb2.ListFilterPresetsRequest(), metadata=_bearer(other.token)
    )
    before = api.keys.revoked_queries

    # Act
    await api.auth.revocations.check()

    # Assert
    assert api.keys.revoked_queries == before + 1
    assert api.auth.revocations.watched_streams == 2
    for call in calls:
        call.cancel()
