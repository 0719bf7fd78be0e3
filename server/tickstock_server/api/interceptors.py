"""Server interceptors: request context and access log, and error mapping, for unary and streaming calls.

Each interceptor wraps the handler's behaviour function instead of acting in `intercept_service`, so that
its code runs in the task that serves the call (context variables set there are seen by the servicer) and
sees exceptions raised while a stream is being iterated. Streaming methods are async generators: gRPC's
own loop writes what they yield.
"""

from __future__ import annotations

import abc
import asyncio
import inspect
import logging
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc
from google.protobuf import message, text_format

from tickstock_server.api.errors import abort_with_error
from tickstock_server.api.rpc_metrics import UNKNOWN_METHOD, RpcMetrics, final_code
from tickstock_server.log import request_id_var, rpc_var

_logger = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
UnaryBehaviour = Callable[[Any, Context], Awaitable[Any]]
StreamBehaviour = Callable[[Any, Context], AsyncIterator[Any]]
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
HandlerContinuation = Callable[[grpc.HandlerCallDetails], Awaitable[Handler]]

# grpc-stubs makes these generic; at run time they are plain classes.
if TYPE_CHECKING:
    _ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    _ServerInterceptor = grpc.aio.ServerInterceptor

_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_SECRET_RESPONSES = ("/tickstock.v1.AuthService/",)
"""Methods whose responses are never logged: they carry session tokens."""
_MAX_PAYLOAD_CHARS = 2_000
# The call's own end, not an error of the service: an abort, or a write the transport failed because
# the client went away or the server stops. gRPC ends the call itself (quietly when the client left).
_GRPC_OWN = (grpc.aio.AbortError, grpc.aio.InternalError)


class WrappingInterceptor(_ServerInterceptor, abc.ABC):
    """Base for interceptors that wrap every method's behaviour, unary or streaming."""

    async def intercept_service(
        self, continuation: HandlerContinuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler:
        """Return the method's handler with its behaviour wrapped."""
        # The handlers grpc builds are named tuples; typed as Any because grpc-stubs does not say so.
        handler: Any = await continuation(handler_call_details)
        if handler is None:
            return None  # type: ignore[return-value]  # unknown method: grpc answers UNIMPLEMENTED
        method = handler_call_details.method
        if handler.unary_unary is not None:
            return handler._replace(unary_unary=self.wrap_unary(handler.unary_unary, method))  # type: ignore[no-any-return]
        if handler.stream_unary is not None:
            return handler._replace(stream_unary=self.wrap_unary(handler.stream_unary, method))  # type: ignore[no-any-return]
        if handler.unary_stream is not None:
            return handler._replace(unary_stream=self.wrap_stream(handler.unary_stream, method))  # type: ignore[no-any-return]
        return handler._replace(stream_stream=self.wrap_stream(handler.stream_stream, method))  # type: ignore[no-any-return]

    @abc.abstractmethod
    def wrap_unary(self, behaviour: UnaryBehaviour, method: str) -> UnaryBehaviour:
        """Return the behaviour of a call with a single response, wrapped."""

    @abc.abstractmethod
    def wrap_stream(self, behaviour: StreamBehaviour, method: str) -> StreamBehaviour:
        """Return the behaviour of a call with a response stream, wrapped."""


async def call_unary(behaviour: UnaryBehaviour, request: Any, context: Context) -> Any:
    """Call a unary behaviour that may be a plain function or a coroutine function."""
    result = behaviour(request, context)
    return await result if inspect.isawaitable(result) else result


class RequestContextInterceptor(WrappingInterceptor):
    """Gives every call a request id (the client's `x-request-id`, or a new one), logs and times its outcome.

    The id is returned in the response headers and attached to every log line of the call. Every call is
    recorded in `metrics` (see `api/rpc_metrics.py`): put this interceptor first, so that it times the
    whole call and sees the code the others settled. With `log_payloads`, requests and responses are
    logged at DEBUG too (cut to 2,000 characters; never the responses of AuthService, which carry
    session tokens).
    """

    def __init__(self, metrics: RpcMetrics, *, log_payloads: bool = False) -> None:
        """Record calls in `metrics`; log payloads at DEBUG only when `log_payloads` is set."""
        self._metrics = metrics
        self._log_payloads = log_payloads

    async def intercept_service(
        self, continuation: HandlerContinuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler:
        """Wrap a known method's behaviour; record a call to an unknown one (gRPC answers it)."""
        started_s = self._metrics.clock_s()
        handler = await super().intercept_service(continuation, handler_call_details)
        if handler is None:  # an unknown method: gRPC answers UNIMPLEMENTED itself
            self._metrics.unary_ended(UNKNOWN_METHOD, grpc.StatusCode.UNIMPLEMENTED, started_s)
        return handler

    def wrap_unary(self, behaviour: UnaryBehaviour, method: str) -> UnaryBehaviour:
        """Run a unary call inside its request context."""
        log_payloads = self._log_payloads
        metrics = self._metrics
        label = metrics.label(method)

        async def wrapped(request: Any, context: Context) -> Any:
            started_s = metrics.clock_s()
            returned = cancelled = False
            try:
                await self._begin(context, method)
                if log_payloads:
                    _log_payload("request", request, method)
                response = await call_unary(behaviour, request, context)
                if log_payloads:
                    _log_payload("response", response, method)
                returned = True
                return response
            except asyncio.CancelledError:
                cancelled = True
                raise
            finally:
                code = final_code(context.code(), returned=returned, cancelled=cancelled)
                metrics.unary_ended(label, code, started_s)
                _log_end(code, metrics.clock_s() - started_s)

        return wrapped

    def wrap_stream(self, behaviour: StreamBehaviour, method: str) -> StreamBehaviour:
        """Run a streaming call inside its request context."""
        log_payloads = self._log_payloads
        metrics = self._metrics
        label = metrics.label(method)

        async def wrapped(request: Any, context: Context) -> AsyncIterator[Any]:
            started_s = metrics.clock_s()
            returned = cancelled = False
            first = True
            metrics.stream_started(label)
            try:
                await self._begin(context, method)
                if log_payloads:
                    _log_payload("request", request, method)
                async for response in behaviour(request, context):
                    if first:
                        first = False
                        metrics.first_message(label, started_s)
                    if log_payloads:
                        _log_payload("response", response, method)
                    yield response
                returned = True
            except (asyncio.CancelledError, GeneratorExit):  # GeneratorExit: gRPC closed the stream
                cancelled = True
                raise
            finally:
                code = final_code(context.code(), returned=returned, cancelled=cancelled)
                metrics.stream_ended(label, code, started_s)
                _log_end(code, metrics.clock_s() - started_s)

        return wrapped

    @staticmethod
    async def _begin(context: Context, method: str) -> None:
        given = dict(context.invocation_metadata() or ()).get("x-request-id", "")
        request_id = given if isinstance(given, str) and _REQUEST_ID.match(given) else secrets.token_hex(8)
        request_id_var.set(request_id)
        rpc_var.set(method)
        # In the response headers: trailers are replaced when a call ends with a rich error status.
        await context.send_initial_metadata((("x-request-id", request_id),))


def _log_end(code: grpc.StatusCode, elapsed_s: float) -> None:
    if _logger.isEnabledFor(logging.DEBUG):
        _logger.debug("call finished", extra={"code": code.name, "ms": round(elapsed_s * 1000, 3)})


def _log_payload(kind: str, payload: Any, method: str) -> None:
    if not _logger.isEnabledFor(logging.DEBUG):
        return
    if kind == "response" and method.startswith(_SECRET_RESPONSES):
        text = "<not logged: holds a session token>"
    elif isinstance(payload, message.Message):
        text = text_format.MessageToString(payload, as_one_line=True)
    else:  # streams may yield events serialised once for every subscriber (api/wire.py)
        text = f"<{len(payload)} bytes, serialised>" if isinstance(payload, bytes) else type(payload).__name__
    if len(text) > _MAX_PAYLOAD_CHARS:
        text = text[: _MAX_PAYLOAD_CHARS - 1] + "…"
    _logger.debug("%s payload", kind, extra={"payload": text})


class ErrorMappingInterceptor(WrappingInterceptor):
    """Turns exceptions into status codes (see `api/errors.py`); never touches cancellation."""

    def wrap_unary(self, behaviour: UnaryBehaviour, method: str) -> UnaryBehaviour:
        """Map exceptions of a unary call to its status."""

        async def wrapped(request: Any, context: Context) -> Any:
            try:
                return await call_unary(behaviour, request, context)
            except _GRPC_OWN:
                raise
            except Exception as exc:
                await abort_with_error(context, exc)

        return wrapped

    def wrap_stream(self, behaviour: StreamBehaviour, method: str) -> StreamBehaviour:
        """Map exceptions of a streaming call, also those raised mid-stream, to its status."""

        async def wrapped(request: Any, context: Context) -> AsyncIterator[Any]:
            try:
                async for response in behaviour(request, context):
                    yield response
            except _GRPC_OWN:
                raise
            except Exception as exc:
                await abort_with_error(context, exc)

        return wrapped
