"""Every method of every `tickstock.v1` service, found from the served descriptors, needs a valid key.

A method added later is covered without touching this file: the list comes from what the server
serves, and the test fails if any tickstock method answers anything but UNAUTHENTICATED.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from api_server import ServerFactory
from backtest_api import Harness, running_every_service

from tickstock_server.api.auth_failures import AuthFailures
from tickstock_server.api.server import SERVICES, served_methods

_BAD_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "missing": (),
    "empty": (("authorization", "Bearer "),),
    "wrong-scheme": (("authorization", "Basic dXNlcjpwYXNz"),),
    "unknown-key": (("authorization", "Bearer tsk_000000000000_" + "A" * 43),),
    "malformed": (("authorization", "Bearer not-a-token"),),
}


@pytest.fixture
async def lenient(start_api_server: ServerFactory) -> AsyncIterator[Harness]:
    """Every service, with a per-peer failure limit that this test's hundred failures stay under (past
    it a peer gets RESOURCE_EXHAUSTED, tested in test_auth_throttling.py)."""
    async with running_every_service(start_api_server, auth_failures=AuthFailures(burst=100_000)) as harness:
        yield harness


def _methods() -> list[tuple[str, bool, bool]]:
    """(path, client streaming, server streaming) of every tickstock method."""
    return [
        (f"/{service.full_name}/{method.name}", method.client_streaming, method.server_streaming)
        for service in SERVICES
        for method in service.methods
    ]


async def _code(
    channel: grpc.aio.Channel, path: str, streams: tuple[bool, bool], metadata: tuple[tuple[str, str], ...]
) -> grpc.StatusCode:
    """The status of one call with an empty request (empty messages are well-formed requests)."""
    client_streaming, server_streaming = streams
    try:
        if client_streaming:
            requests = iter([b""])
            if server_streaming:
                call = channel.stream_stream(path)(requests, metadata=metadata, timeout=10)
                await call.read()
            else:
                await channel.stream_unary(path)(requests, metadata=metadata, timeout=10)
        elif server_streaming:
            stream = channel.unary_stream(path)(b"", metadata=metadata, timeout=10)
            await stream.read()
            stream.cancel()
        else:
            await channel.unary_unary(path)(b"", metadata=metadata, timeout=10)
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def test_the_methods_come_from_the_served_services() -> None:
    paths = {path for path, _, _ in _methods()}

    assert len(paths) >= 26
    assert paths <= set(served_methods())


def _wrong_secret(token: str) -> tuple[tuple[str, str], ...]:
    """An existing key's id with another secret."""
    key_id, secret = token.removeprefix("tsk_").split("_", 1)
    return (("authorization", f"Bearer tsk_{key_id}_{'A' * len(secret)}"),)


@pytest.mark.parametrize("key", [*_BAD_KEYS, "wrong-secret"])
async def test_every_method_without_a_valid_key_is_unauthenticated(lenient: Harness, key: str) -> None:
    channel = lenient.api.channel
    metadata = _wrong_secret(lenient.api.token) if key == "wrong-secret" else _BAD_KEYS[key]

    answered = {
        path: await _code(channel, path, (client, server), metadata) for path, client, server in _methods()
    }

    assert {
        path: code for path, code in answered.items() if code is not grpc.StatusCode.UNAUTHENTICATED
    } == {}


async def test_every_method_with_a_valid_key_gets_past_authentication(lenient: Harness) -> None:
    # The same calls with alice's key: the UNAUTHENTICATED above came from the key, not the request.
    channel, metadata = lenient.api.channel, lenient.alice

    answered = {
        path: await _code(channel, path, (client, server), metadata) for path, client, server in _methods()
    }

    assert [path for path, code in answered.items() if code is grpc.StatusCode.UNAUTHENTICATED] == []
