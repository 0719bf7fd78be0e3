"""Builds the gRPC server: every `tickstock.v1` service, health checking, reflection and interceptors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import grpc
from google.protobuf import message, message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

# `health.aio` re-exports this module; importing it directly lets mypy (grpc-stubs lacks it) see it.
from grpc_health.v1._async import HealthServicer

from tickstock.v1 import (
    auth_service_pb2,
    backtest_service_pb2,
    event_service_pb2,
    market_data_service_pb2,
    pattern_service_pb2,
    universe_service_pb2,
)
from tickstock_server.api.auth import AuthInterceptor
from tickstock_server.api.interceptors import Context, ErrorMappingInterceptor, RequestContextInterceptor
from tickstock_server.api.reflection import REFLECTION_SERVICES, enable_reflection
from tickstock_server.api.rpc_metrics import RpcMetrics
from tickstock_server.api.tls import ServerTls, server_credentials
from tickstock_server.api.undecodable import tolerant_deserializer
from tickstock_server.api.validation import RequestValidationInterceptor
from tickstock_server.errors import NotSupportedError

_logger = logging.getLogger(__name__)

EVENT_SERVICE: ServiceDescriptor = event_service_pb2.DESCRIPTOR.services_by_name["EventService"]
PATTERN_SERVICE: ServiceDescriptor = pattern_service_pb2.DESCRIPTOR.services_by_name["PatternService"]
UNIVERSE_SERVICE: ServiceDescriptor = universe_service_pb2.DESCRIPTOR.services_by_name["UniverseService"]
MARKET_DATA_SERVICE: ServiceDescriptor = market_data_service_pb2.DESCRIPTOR.services_by_name[
    "MarketDataService"
]
BACKTEST_SERVICE: ServiceDescriptor = backtest_service_pb2.DESCRIPTOR.services_by_name["BacktestService"]
AUTH_SERVICE: ServiceDescriptor = auth_service_pb2.DESCRIPTOR.services_by_name["AuthService"]
SERVICES: tuple[ServiceDescriptor, ...] = (
    EVENT_SERVICE,
    PATTERN_SERVICE,
    UNIVERSE_SERVICE,
    MARKET_DATA_SERVICE,
    BACKTEST_SERVICE,
    AUTH_SERVICE,
)
"""Every service of the `tickstock.v1` API."""

# Keepalive: dead peers are noticed within a minute, and frequent client pings (grpcurl, Envoy) are
# tolerated instead of answered with GOAWAY too_many_pings.
_SERVER_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_ping_strikes", 0),
)
_NO_LIMIT_MS = 2**31 - 1
"""gRPC's "infinite" for millisecond options."""


def _serialize(response: message.Message | bytes) -> bytes:
    # Streams may yield bytes that were framed around events serialised once (api/wire.py).
    return response if isinstance(response, bytes) else response.SerializeToString()


def _unimplemented(method: MethodDescriptor) -> Any:
    error = NotSupportedError(f"{method.full_name} is not implemented by this server version yet")

    async def unary(request: Any, context: Context) -> Any:
        raise error

    async def stream(request: Any, context: Context) -> AsyncIterator[Any]:
        nothing: tuple[Any, ...] = ()
        for item in nothing:  # makes this an async generator, like every streaming behaviour
            yield item
        raise error

    return stream if method.server_streaming else unary


def _method_handler(method: MethodDescriptor, behaviour: Any) -> grpc.RpcMethodHandler[Any, Any]:
    deserialize = tolerant_deserializer(message_factory.GetMessageClass(method.input_type))
    if method.client_streaming:
        raise ValueError(f"{method.full_name}: client streaming is not browser-compatible; not supported")
    factory = (
        grpc.unary_stream_rpc_method_handler
        if method.server_streaming
        else grpc.unary_unary_rpc_method_handler
    )
    return factory(behaviour, request_deserializer=deserialize, response_serializer=_serialize)


def service_handler(service: ServiceDescriptor, servicer: object | None) -> grpc.GenericRpcHandler[Any, Any]:
    """A handler for every method of `service`: the servicer's method of that name.

    Every method of a service without a servicer answers UNIMPLEMENTED.

    Raises:
        ValueError: `servicer` lacks one of the service's methods (a misspelt name would otherwise
            answer UNIMPLEMENTED in silence).
    """
    if servicer is not None:
        missing = [m.name for m in service.methods if not callable(getattr(servicer, m.name, None))]
        if missing:
            raise ValueError(f"{type(servicer).__name__} does not implement {service.full_name}: {missing}")
    handlers = {
        method.name: _method_handler(
            method, _unimplemented(method) if servicer is None else getattr(servicer, method.name)
        )
        for method in service.methods
    }
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def create_server(
    *,
    servicers: Mapping[str, object],
    auth: AuthInterceptor,
    host: str,
    port: int,
    max_connection_age_s: float,
    max_stream_age_s: float | None = None,
    rotation_grace_s: float = 60.0,
    reuse_port: bool = False,
    log_payloads: bool = False,
    tls: ServerTls | None = None,
    plaintext_port: int | None = None,
    rpc_metrics: RpcMetrics | None = None,
) -> tuple[grpc.aio.Server, int, HealthServicer]:
    """Build (not start) the server; return it, its bound port and its health servicer.

    Connections get GOAWAY after `max_connection_age_s` (clients spread over replicas again), but a
    stream already open on one is never cut by it: the grace lasts `max_stream_age_s` (after which
    the stream itself sends a rotation hint) plus `rotation_grace_s` for the client to move; with no
    stream age, the grace is unlimited.

    `auth` verifies every call's bearer token (share its `keys` with the AuthService servicer, which
    signs session tokens with their secret); run its `revocations` watch beside the server, or revoked
    keys keep their open streams. `servicers` maps a service's full name to the object implementing
    every one of its methods (a missing one is a ValueError here). Services without a servicer are
    still registered: their methods answer UNIMPLEMENTED and reflection describes them. Health is
    reported SERVING only for services that have a servicer, and for "".

    With `reuse_port`, several processes (gateways) may bind the same port and the kernel spreads new
    connections over them; without it, a second server on a busy port fails to start. With
    `log_payloads`, requests and responses are logged at DEBUG. With `tls` the port accepts only TLS
    (see `api/tls.py`); `plaintext_port` then adds a second port without TLS (the caller decides
    whether that is allowed). `rpc_metrics` records every call (made with `served_methods()`); pass one to
    export what it counts.
    """
    grace_ms = _NO_LIMIT_MS if max_stream_age_s is None else int((max_stream_age_s + rotation_grace_s) * 1000)
    options = (
        *_SERVER_OPTIONS,
        ("grpc.max_connection_age_ms", int(max_connection_age_s * 1000)),
        ("grpc.max_connection_age_grace_ms", min(grace_ms, _NO_LIMIT_MS)),
        ("grpc.so_reuseport", int(reuse_port)),
    )
    server = grpc.aio.server(
        interceptors=(
            # First, so that it times the whole call and sees the code the other interceptors settled.
            RequestContextInterceptor(rpc_metrics or RpcMetrics(served_methods()), log_payloads=log_payloads),
            ErrorMappingInterceptor(),
            auth,
            # Inside authentication: only callers with a valid key learn the request limits.
            RequestValidationInterceptor(services=SERVICES),
        ),
        options=options,
    )
    server.add_generic_rpc_handlers(
        tuple(service_handler(service, servicers.get(service.full_name)) for service in SERVICES)
    )
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    enable_reflection(server, [service.full_name for service in SERVICES] + [health.SERVICE_NAME])
    address = f"{host}:{port}"
    bound = (
        server.add_insecure_port(address)
        if tls is None
        else server.add_secure_port(address, server_credentials(tls))
    )
    if bound == 0:
        raise OSError(f"could not bind {host}:{port}")
    if plaintext_port is not None and server.add_insecure_port(f"{host}:{plaintext_port}") == 0:
        raise OSError(f"could not bind {host}:{plaintext_port}")
    return server, bound, health_servicer


def served_methods() -> list[str]:
    """The full names ("/package.Service/Method") of every method served, health and reflection included."""
    services = [*SERVICES, health_pb2.DESCRIPTOR.services_by_name["Health"]]
    names = [f"/{service.full_name}/{method.name}" for service in services for method in service.methods]
    return [*names, *(f"/{name}/ServerReflectionInfo" for name in REFLECTION_SERVICES)]


async def set_serving(health_servicer: HealthServicer, names: list[str], serving: bool) -> None:
    """Report the given services (and the server as a whole, "") as SERVING or NOT_SERVING."""
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in ("", *names):
        await health_servicer.set(name, status)


async def follow_health(
    health_servicer: HealthServicer, name: str, is_healthy: Callable[[], bool], *, interval_s: float = 1.0
) -> None:
    """Report service `name` NOT_SERVING while `is_healthy()` is false, SERVING again once it is true.

    Polls every `interval_s` until cancelled; the component behind `is_healthy` logs why it is not.
    After `enter_graceful_shutdown` the health servicer ignores updates, so this cannot undo it.
    """
    serving = True
    while True:
        await asyncio.sleep(interval_s)
        healthy = is_healthy()
        if healthy != serving:
            serving = healthy
            status = (
                health_pb2.HealthCheckResponse.SERVING
                if serving
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            await health_servicer.set(name, status)
