"""Bearer API keys: every tickstock RPC needs one; health and reflection do not."""

from __future__ import annotations

import grpc
import pytest
from api_server import ApiServer
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tickstock.v1 import event_service_pb2


async def _status_of(api: ApiServer, metadata: tuple[tuple[str, str], ...]) -> grpc.StatusCode:
    call = api.events_stub().StreamEvents(event_service_pb2.StreamEventsRequest(), metadata=metadata)
    try:
        await call.read()
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    call.cancel()
    return grpc.StatusCode.OK


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        (("authorization", "Bearer "),),
        (("authorization", "Basic dXNlcjpwYXNz"),),
        (("authorization", "Bearer tsk_000000000000_" + "A" * 43),),
        (("authorization", "Bearer not-a-token"),),
    ],
    ids=["missing", "empty", "wrong-scheme", "unknown-key", "malformed"],
)
async def test_call_without_valid_key_is_unauthenticated(
    api: ApiServer, metadata: tuple[tuple[str, str], ...]
) -> None:
    assert await _status_of(api, metadata) == grpc.StatusCode.UNAUTHENTICATED


async def test_call_with_valid_key_is_served(api: ApiServer) -> None:
    assert await _status_of(api, api.metadata) == grpc.StatusCode.OK


async def test_lower_case_bearer_scheme_is_accepted(api: ApiServer) -> None:
    assert await _status_of(api, (("authorization", f"bearer {api.token}"),)) == grpc.StatusCode.OK


async def test_revoked_key_is_unauthenticated_for_new_tokens(api: ApiServer) -> None:
    issued = await api.keys.create("bob")
    await api.keys.revoke(issued.key_id)

    status = await _status_of(api, (("authorization", f"Bearer {issued.token}"),))

    assert status == grpc.StatusCode.UNAUTHENTICATED


async def test_unauthenticated_message_does_not_echo_the_token(api: ApiServer) -> None:
    secret = "tsk_0123456789ab_" + "S" * 43
    call = api.events_stub().StreamEvents(
        event_service_pb2.StreamEventsRequest(), metadata=(("authorization", f"Bearer {secret}"),)
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call.read()

    assert secret not in (raised.value.details() or "")
    assert "S" * 43 not in str(raised.value.trailing_metadata())


async def test_health_check_needs_no_key(api: ApiServer) -> None:
    response = await health_pb2_grpc.HealthStub(api.channel).Check(health_pb2.HealthCheckRequest(service=""))

    assert response.status == health_pb2.HealthCheckResponse.SERVING
