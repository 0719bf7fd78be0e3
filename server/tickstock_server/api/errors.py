"""Maps domain errors to gRPC status codes with `google.rpc` details; unknown errors become INTERNAL."""

from __future__ import annotations

import logging
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
    (errors.NotFoundError, grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
    (errors.AlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS, "ALREADY_EXISTS"),
    (errors.LimitExceededError, grpc.StatusCode.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED"),
    (errors.SubscriberOverloadedError, grpc.StatusCode.RESOURCE_EXHAUSTED, "SLOW_CONSUMER"),
    (errors.NotSupportedError, grpc.StatusCode.UNIMPLEMENTED, "NOT_SUPPORTED"),
    (errors.NotReadyError, grpc.StatusCode.UNAVAILABLE, "NOT_READY"),
    (errors.DependencyUnavailableError, grpc.StatusCode.UNAVAILABLE, "DEPENDENCY_UNAVAILABLE"),
)
_RETRY_AFTER_S = 1


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


def _rich_status(code: grpc.StatusCode, message: str, reason: str, exc: BaseException) -> grpc.Status:
    status = status_pb2.Status(code=code.value[0], message=message)
    status.details.add().Pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN))
    if isinstance(exc, errors.InvalidRequestError):
        violations = [
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in exc.violations
        ]
        status.details.add().Pack(error_details_pb2.BadRequest(field_violations=violations))
    if code is grpc.StatusCode.UNAVAILABLE:
        retry = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=_RETRY_AFTER_S))
        status.details.add().Pack(retry)
    return rpc_status.to_status(status)


async def abort_with_error(context: grpc.aio.ServicerContext[Any, Any], exc: Exception) -> None:
    """Log as the error deserves and end the call with its status (raises grpc.aio.AbortError)."""
    status = status_for(exc)
    if status.code is grpc.StatusCode.INTERNAL:
        _logger.exception("unhandled error", exc_info=exc)
    # Present on aio contexts since grpcio 1.38; missing from grpc-stubs.
    await context.abort_with_status(status)  # type: ignore[attr-defined]
