"""Maps domain errors to gRPC status codes with `google.rpc` details; unknown errors become INTERNAL."""

from __future__ import annotations

import logging
import math
from typing import Any

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from tickstock_server import errors
from tickstock_server.log import request_id_var

_logger = logging.getLogger(__name__)

ERROR_DOMAIN = "tickstock.v1"
"""`ErrorInfo.domain` of every error this service reports."""

# Most specific first: the first matching class wins. Reason strings are part of the API: clients may
# switch on them, so never rename one.
_TABLE: tuple[tuple[type[BaseException], grpc.StatusCode, str], ...] = (
    (errors.InvalidRequestError, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
    (errors.UnauthenticatedError, grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED"),
    (errors.AuthThrottledError, grpc.StatusCode.RESOURCE_EXHAUSTED, "AUTH_THROTTLED"),
    (errors.NotFoundError, grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
    (errors.AlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS, "ALREADY_EXISTS"),
    (errors.LimitExceededError, grpc.StatusCode.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED"),
    (errors.SubscriberOverloadedError, grpc.StatusCode.RESOURCE_EXHAUSTED, "SLOW_CONSUMER"),
    (errors.NotSupportedError, grpc.StatusCode.UNIMPLEMENTED, "NOT_SUPPORTED"),
    (errors.NotReadyError, grpc.StatusCode.UNAVAILABLE, "NOT_READY"),
    (errors.DependencyUnavailableError, grpc.StatusCode.UNAVAILABLE, "DEPENDENCY_UNAVAILABLE"),
)
# Raised at start-up, by commands or on the producer bus, never by an RPC: one that reaches a handler is a
# bug and gets the generic INTERNAL like any unexpected exception. Listed so that a test tells a class
# deliberately left out of the table from a forgotten one.
UNMAPPED: tuple[type[BaseException], ...] = (
    errors.TickstockError,
    errors.FeedAuthenticationError,
    errors.EmbeddedServerError,
    errors.EnvoyError,
    errors.SupervisorError,
    errors.MigrationError,
    errors.SeedDataError,
    errors.MassiveRestError,
    errors.LoadError,
    errors.MessageRejectedError,
)
_RETRY_AFTER_S = 1

# Bounds on what an error may echo back, wherever the text came from: a 3 MB bad value must not turn
# into a 3 MB grpc-message (clients refuse metadata that large and report RESOURCE_EXHAUSTED instead).
MAX_MESSAGE_CHARS = 1_000
"""`grpc-message` is cut to this length, with an ellipsis."""
MAX_VIOLATION_CHARS = 200
"""Each field violation's field path and description are cut to this length."""
MAX_VIOLATIONS = 20
"""Field violations reported per error; one more entry says how many were left out."""


def mapped_errors() -> tuple[type[BaseException], ...]:
    """The error classes with a status of their own, most specific first."""
    return tuple(cls for cls, _, _ in _TABLE)


def status_for(exc: BaseException) -> grpc.Status:
    """The status to send for an exception: its table row, or a generic INTERNAL."""
    for cls, code, reason in _TABLE:
        if isinstance(exc, cls):
            return _rich_status(code, str(exc), reason, exc)
    return _rich_status(
        grpc.StatusCode.INTERNAL,
        f"internal error (request id {request_id_var.get() or 'unknown'})",
        "INTERNAL",
        exc,
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rich_status(code: grpc.StatusCode, message: str, reason: str, exc: BaseException) -> grpc.Status:
    status = status_pb2.Status(code=code.value[0], message=_clip(message, MAX_MESSAGE_CHARS))
    status.details.add().Pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN))
    if isinstance(exc, errors.InvalidRequestError):
        violations = [
            error_details_pb2.BadRequest.FieldViolation(
                field=_clip(v.field, MAX_VIOLATION_CHARS),
                description=_clip(v.description, MAX_VIOLATION_CHARS),
            )
            for v in exc.violations[:MAX_VIOLATIONS]
        ]
        if len(exc.violations) > MAX_VIOLATIONS:
            left_out = len(exc.violations) - MAX_VIOLATIONS
            violations.append(
                error_details_pb2.BadRequest.FieldViolation(
                    field="", description=f"{left_out} more field violations left out"
                )
            )
        status.details.add().Pack(error_details_pb2.BadRequest(field_violations=violations))
    if code is grpc.StatusCode.UNAVAILABLE:
        retry = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=_RETRY_AFTER_S))
        status.details.add().Pack(retry)
    if isinstance(exc, errors.AuthThrottledError):
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(max(math.ceil(exc.retry_after_s * 1_000), 1) * 1_000_000)
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    return rpc_status.to_status(status)


async def abort_with_error(context: grpc.aio.ServicerContext[Any, Any], exc: Exception) -> None:
    """Log as the error deserves and end the call with its status (raises grpc.aio.AbortError)."""
    status = status_for(exc)
    if status.code is grpc.StatusCode.INTERNAL:
        _logger.exception("unhandled error", exc_info=exc)
    # Present on aio contexts since grpcio 1.38; missing from grpc-stubs.
    await context.abort_with_status(status)  # type: ignore[attr-defined]
