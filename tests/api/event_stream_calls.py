"""StreamEvents requests and reading a stream up to a kind of message, for the API tests."""

from __future__ import annotations

from typing import Any

import grpc

from tickstock.v1 import event_service_pb2


def stream_request(
    resume: tuple[str, int] | None = None, **filter_fields: Any
) -> event_service_pb2.StreamEventsRequest:
    """A request with these filter fields, resuming after (epoch, seq) when given."""
    request = event_service_pb2.StreamEventsRequest(filter=event_service_pb2.EventFilter(**filter_fields))
    if resume is not None:
        request.resume_token.epoch, request.resume_token.seq = resume
    return request


async def read_until(call: Any, kind: str) -> list[event_service_pb2.StreamEventsResponse]:
    """Every message up to and including the first of `kind`."""
    messages = []
    while (response := await call.read()) is not grpc.aio.EOF:
        messages.append(response)
        if response.WhichOneof("payload") == kind:
            return messages
    raise AssertionError(f"stream ended before a {kind}")
