"""Request bytes that are not the method's message get INVALID_ARGUMENT, never INTERNAL."""

from __future__ import annotations

import grpc
import pytest
from api_server import ServerFactory
from google.rpc import error_details_pb2
from grpc_status import rpc_status

_GARBAGE = b"\xff\xff\xff\xff"  # a field header whose number is out of range: no message reads it


def _raw(channel: grpc.aio.Channel, method: str, *, streaming: bool) -> object:
    identity = {"request_serializer": lambda data: data, "response_deserializer": lambda data: data}
    return (channel.unary_stream if streaming else channel.unary_unary)(method, **identity)


@pytest.mark.parametrize(
    ("method", "streaming"),
    [
        ("/tickstock.v1.UniverseService/GetSymbol", False),
        ("/tickstock.v1.EventService/StreamEvents", True),
    ],
)
async def test_undecodable_request_bytes_are_an_invalid_argument(
    start_api_server: ServerFactory, method: str, streaming: bool
) -> None:
    api = await start_api_server(universe_service=True)
    call = _raw(api.channel, method, streaming=streaming)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        if streaming:
            async for _ in call(_GARBAGE, metadata=api.metadata):  # type: ignore[operator]
                pass
        else:
            await call(_GARBAGE, metadata=api.metadata)  # type: ignore[operator]

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(raised.value)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    assert any(detail.Unpack(bad_request) for detail in status.details)
    [violation] = bad_request.field_violations
    assert violation.field == "request"
    assert "4 bytes that do not decode as a tickstock.v1." in violation.description


async def test_undecodable_request_bytes_without_a_key_are_unauthenticated(
    start_api_server: ServerFactory,
) -> None:
    api = await start_api_server(universe_service=True)
    call = _raw(api.channel, "/tickstock.v1.UniverseService/GetSymbol", streaming=False)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(_GARBAGE)  # type: ignore[operator]

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
