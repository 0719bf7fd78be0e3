"""AuthService.CreateSessionToken over the in-process server, and session tokens on other RPCs."""

from __future__ import annotations

import grpc
import pytest
from api_server import ApiServer, ServerFactory

from tickstock.v1 import auth_service_pb2, auth_service_pb2_grpc, event_service_pb2

NOW_NS = 1_800_000_000 * 1_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now_ns = NOW_NS

    def __call__(self) -> int:
        return self.now_ns


async def _token(
    api: ApiServer, bearer: str, **request: object
) -> auth_service_pb2.CreateSessionTokenResponse:
    stub = auth_service_pb2_grpc.AuthServiceStub(api.channel)
    return await stub.CreateSessionToken(
        auth_service_pb2.CreateSessionTokenRequest(**request),  # type: ignore[arg-type]
        metadata=(("authorization", f"Bearer {bearer}"),),
    )


async def _presets(api: ApiServer, bearer: str) -> event_service_pb2.ListFilterPresetsResponse:
    return await api.events_stub().ListFilterPresets(
        event_service_pb2.ListFilterPresetsRequest(), metadata=(("authorization", f"Bearer {bearer}"),)
    )


async def test_an_api_key_gets_a_one_hour_token_that_works_like_the_key(
    start_api_server: ServerFactory,
) -> None:
    clock = Clock()
    api = await start_api_server(clock_ns=clock)

    response = await _token(api, api.token)
    listed = await _presets(api, response.token)

    assert response.user == "alice"
    assert response.expire_time.ToNanoseconds() == NOW_NS + 3600 * 1_000_000_000
    assert response.token.startswith("tss_")
    assert list(listed.presets) == []


async def test_a_live_token_renews_itself(start_api_server: ServerFactory) -> None:
    clock = Clock()
    api = await start_api_server(clock_ns=clock)
    first = await _token(api, api.token)
    clock.now_ns += 50 * 60 * 1_000_000_000  # ten minutes before it expires

    renewed = await _token(api, first.token)

    assert renewed.user == "alice"
    assert renewed.expire_time.ToNanoseconds() == clock.now_ns + 3600 * 1_000_000_000


async def test_an_expired_token_is_unauthenticated(start_api_server: ServerFactory) -> None:
    clock = Clock()
    api = await start_api_server(clock_ns=clock)
    token = (await _token(api, api.token, ttl={"seconds": 60})).token
    await _presets(api, token)  # works (and is cached)
    clock.now_ns += 61 * 1_000_000_000

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _presets(api, token)

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert token not in (raised.value.details() or "")


async def test_revoking_the_key_ends_its_tokens(start_api_server: ServerFactory) -> None:
    api = await start_api_server()
    token = (await _token(api, api.token)).token
    key_id = api.token.split("_")[1]

    await api.keys.revoke(key_id)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _presets(api, token)

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("ttl", [{"seconds": 59}, {"seconds": 12 * 3600 + 1}, {"seconds": 120, "nanos": 5}])
async def test_a_ttl_out_of_range_is_invalid_argument(api: ApiServer, ttl: dict[str, int]) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _token(api, api.token, ttl=ttl)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "ttl:" in (raised.value.details() or "")


async def test_a_forged_token_is_unauthenticated(api: ApiServer) -> None:
    token = (await _token(api, api.token)).token
    claims, _, mac = token.rpartition(".")
    forged = f"{claims}.{mac[::-1]}"

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _presets(api, forged)

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
