"""Every request field of every method, at its declared limit and one past it, against a real server.

The cases come from the services' descriptors (`request_limits.py`): a field added later is covered
without touching this file, and a string or list field added without a maximum fails the first test.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import protovalidate
import pytest
from backtest_api import Harness
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from request_limits import LimitCase, documented_limits, limit_cases, request_methods, unbounded_fields

from tickstock_server.api.validation import request_violations

_STREAM_WAIT_S = 1.0
"""How long a stream at its limits is read: its first message, or an error status, or nothing yet."""
# Codes a request with every field within its limits may get from the test server: served, or refused
# on its meaning (unknown names and ids, per-user quotas, a stream with nothing to say yet).
_SERVED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
}


def test_every_request_string_and_list_field_has_a_maximum() -> None:
    # Act
    missing = unbounded_fields()

    # Assert: add a `buf.validate` maximum in the proto and a line in docs/api.md
    assert missing == []


def test_every_limited_field_is_in_the_api_doc() -> None:
    # docs/api.md has a table per request message ("**Message**", then "| `field` | limit |" rows).
    doc = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    tables = {part.split("**", 1)[0]: part for part in doc.split("\n**")[1:]}

    missing = [
        f"{message}.{field}"
        for message, field in documented_limits()
        if f"| `{field}` |" not in tables.get(message, "")
    ]

    assert missing == []


def test_every_method_has_limit_cases() -> None:
    # Methods whose requests have no field at all need none.
    with_fields = {m.full_name for m in request_methods() if m.input_type.fields}

    covered = {case.method.full_name for case in limit_cases()}

    assert covered == with_fields


async def _call(
    channel: grpc.aio.Channel,
    method: MethodDescriptor,
    request: Message,
    metadata: tuple[tuple[str, str], ...],
) -> grpc.aio.AioRpcError | None:
    """The call's error, or None when it answered (a stream: its first message) or had nothing yet."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    try:
        if method.server_streaming:
            call = channel.unary_stream(path, request_serializer=type(request).SerializeToString)(
                request, metadata=metadata
            )
            try:
                await call.read()
            finally:
                call.cancel()
        else:
            await channel.unary_unary(path, request_serializer=type(request).SerializeToString)(
                request, metadata=metadata, timeout=_STREAM_WAIT_S * 5
            )
    except grpc.aio.AioRpcError as error:
        return error
    return None


async def _stream_or_unary(
    channel: grpc.aio.Channel, case: LimitCase, request: Message, metadata: tuple[tuple[str, str], ...]
) -> grpc.aio.AioRpcError | None:
    if not case.method.server_streaming:
        return await _call(channel, case.method, request, metadata)
    try:
        async with asyncio.timeout(_STREAM_WAIT_S):
            return await _call(channel, case.method, request, metadata)
    except TimeoutError:
        return None  # open and waiting for something to send: served


def _violated_fields(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)
    fields: list[str] = []
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            fields += [violation.field for violation in bad_request.field_violations]
    return fields


@pytest.fixture
def backtests(every_service: Harness) -> Harness:
    return every_service


async def test_every_field_at_its_limit_is_served_and_past_it_is_invalid_argument(backtests: Harness) -> None:
    # Arrange
    cases = limit_cases()
    channel, metadata = backtests.api.channel, backtests.alice
    validator = protovalidate.Validator()
    wrong: list[str] = []

    # Act
    for case in cases:
        if case.at_limit is not None:
            # Within every declared limit, so an INVALID_ARGUMENT can only come from the handler's checks.
            wrong += [f"{case.name}: {v}" for v in request_violations(validator, case.at_limit)]
            error = await _stream_or_unary(channel, case, case.at_limit, metadata)
            code = grpc.StatusCode.OK if error is None else error.code()
            wrong += [] if code in _SERVED else [f"{case.name}: at the limit got {code.name}: {_text(error)}"]
        error = await _stream_or_unary(channel, case, case.past_limit, metadata)
        code = grpc.StatusCode.OK if error is None else error.code()
        named = error is not None and case.field in _violated_fields(error)
        refused = code is grpc.StatusCode.INVALID_ARGUMENT and named
        wrong += [] if refused else [f"{case.name}: past the limit got {code.name}: {_text(error)}"]

    # Assert
    assert len(cases) > 150
    assert wrong == []


def _text(error: grpc.aio.AioRpcError | None) -> str:
    return "" if error is None else (error.details() or "")[:200]


async def test_a_request_past_its_limits_without_a_key_is_unauthenticated(backtests: Harness) -> None:
    # Authentication comes first: a caller without a key learns nothing about the limits.
    case = next(case for case in limit_cases() if case.method.name == "ListSymbols")

    error = await _call(backtests.api.channel, case.method, case.past_limit, ())

    assert error is not None
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
