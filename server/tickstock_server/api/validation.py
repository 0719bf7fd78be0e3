"""Checks every request against the limits its proto declares (`buf.validate` rules) before the handler runs.

The static rules (lengths, list sizes, numeric ranges, defined enum values, finite numbers) live in the
protos, next to the fields they bound, and are enforced here for every method, unary or streaming, by one
`protovalidate.Validator` built once. Semantic checks (ticker syntax, cross-field rules, lookups, page
tokens) stay in the mappers and services, and only run on requests that passed these limits, so no
handler ever sees an oversized value. `docs/api.md` lists every limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import protovalidate
from google.protobuf import message, message_factory
from google.protobuf.descriptor import ServiceDescriptor

from tickstock_server.api.interceptors import (
    Context,
    StreamBehaviour,
    UnaryBehaviour,
    WrappingInterceptor,
    call_unary,
)
from tickstock_server.api.undecodable import UndecodableRequest
from tickstock_server.errors import FieldViolation, InvalidRequestError

MAX_ECHO_CHARS = 64
"""Longest piece of client input an error quotes back."""


def clip_echo(text: str) -> str:
    """`text` cut to `MAX_ECHO_CHARS` characters, with an ellipsis when cut."""
    return text if len(text) <= MAX_ECHO_CHARS else text[: MAX_ECHO_CHARS - 1] + "…"


def field_path(violation: protovalidate.Violation) -> str:
    """The violation's field as a request path, e.g. ``filter.symbols[3]`` or ``labels["key"]``."""
    parts: list[str] = []
    path = violation.proto.field  # absent only for message-level rules, which these protos do not use
    for element in path.elements if path is not None else ():
        part = ("." if parts else "") + element.field_name
        subscript = element.subscript
        if subscript is not None:
            # Map keys are client input: cut like every echoed value.
            value = subscript.value
            shown = f'"{clip_echo(value)}"' if isinstance(value, str) else str(value).lower()
            part += f"[{shown}]"
        parts.append(part)
    return "".join(parts)


def request_violations(validator: protovalidate.Validator, request: Any) -> list[FieldViolation]:
    """Every rule `request` breaks, as field violations; the descriptions name the rule, not the value."""
    violations = validator.collect_violations(request)
    return [FieldViolation(field_path(violation), violation.proto.message) for violation in violations]


class RequestValidationInterceptor(WrappingInterceptor):
    """Refuses a request that breaks its proto's `buf.validate` rules with INVALID_ARGUMENT.

    The refusal is an `InvalidRequestError`, so the error interceptor around this one sends it as
    INVALID_ARGUMENT with a `google.rpc.BadRequest` listing every violated field. Install it inside
    authentication: an unauthenticated caller learns nothing about the limits.
    """

    def __init__(
        self, validator: protovalidate.Validator | None = None, *, services: Iterable[ServiceDescriptor] = ()
    ) -> None:
        """Use `validator`, or a new one; it caches each message type's compiled rules, so share it.

        The rules of every request of `services` are compiled here, at start-up: compiling one message
        type's rules takes up to tens of ms, which the first call of each method would otherwise stall
        every stream on the event loop for.
        """
        self._validator = validator or protovalidate.Validator()
        for service in services:
            for method in service.methods:
                self._validator.collect_violations(message_factory.GetMessageClass(method.input_type)())

    def _check(self, request: Any) -> None:
        if isinstance(request, UndecodableRequest):
            raise request.error()
        if not isinstance(request, message.Message):
            # A client-streaming call (server reflection) gets an iterator of requests; no tickstock.v1
            # method streams its requests (browsers cannot), so there is nothing of ours to check.
            return
        violations = request_violations(self._validator, request)
        if violations:
            raise InvalidRequestError(violations)

    def wrap_unary(self, behaviour: UnaryBehaviour, method: str) -> UnaryBehaviour:
        """Check the request, then run the call."""

        async def wrapped(request: Any, context: Context) -> Any:
            self._check(request)
            return await call_unary(behaviour, request, context)

        return wrapped

    def wrap_stream(self, behaviour: StreamBehaviour, method: str) -> StreamBehaviour:
        """Check the request before the first response, then stream."""

        async def wrapped(request: Any, context: Context) -> AsyncIterator[Any]:
            self._check(request)
            async for response in behaviour(request, context):
                yield response

        return wrapped
