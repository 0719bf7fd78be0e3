"""Errors of the TickStock API as exceptions: one class per family of gRPC status codes.

Every error keeps the status code, the server's message, and the `google.rpc` details the server sends:
the field violations of a bad request, the machine-readable reason (`ErrorInfo.reason`, for example
`LIMIT_EXCEEDED`) and how long to wait before retrying (`RetryInfo`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

__all__ = [
    "AlreadyExistsError",
    "FieldViolation",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "TickstockError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "error_from_rpc",
]


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad field of a request: its path (`filter.symbols[2]`) and what is wrong with it."""

    field: str
    description: str


class TickstockError(Exception):
    """A call the server refused or could not complete."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str = "",
        field_violations: tuple[FieldViolation, ...] = (),
        retry_delay: timedelta | None = None,
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        """The gRPC status code."""
        self.message = message
        """The server's message."""
        self.reason = reason
        """`google.rpc.ErrorInfo.reason`: a stable, machine-readable cause ("" when none was sent)."""
        self.field_violations = field_violations
        """Every bad field of the request (INVALID_ARGUMENT)."""
        self.retry_delay = retry_delay
        """How long the server asks to wait before retrying, when it says."""


class InvalidArgumentError(TickstockError):
    """The request is malformed or out of range (INVALID_ARGUMENT, OUT_OF_RANGE, FAILED_PRECONDITION)."""


class NotFoundError(TickstockError):
    """The named thing does not exist, or belongs to another user (NOT_FOUND)."""


class AlreadyExistsError(TickstockError):
    """The thing to create exists already (ALREADY_EXISTS)."""


class UnauthenticatedError(TickstockError):
    """The API key or session token is missing, invalid, expired or revoked (UNAUTHENTICATED)."""


class PermissionDeniedError(TickstockError):
    """The caller may not do this (PERMISSION_DENIED)."""


class ResourceExhaustedError(TickstockError):
    """A per-user limit or quota is reached, or the client read too slowly (RESOURCE_EXHAUSTED)."""


class UnavailableError(TickstockError):
    """The server or a store it needs is unreachable for now; retrying later may work.

    UNAVAILABLE, DEADLINE_EXCEEDED and ABORTED.
    """


class UnimplementedError(TickstockError):
    """The server does not implement this method (UNIMPLEMENTED)."""


class InternalError(TickstockError):
    """A server-side fault (INTERNAL, UNKNOWN, DATA_LOSS, or any other code)."""


_FAMILIES: dict[grpc.StatusCode, type[TickstockError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgumentError,
    grpc.StatusCode.FAILED_PRECONDITION: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: UnavailableError,
    grpc.StatusCode.ABORTED: UnavailableError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
}


def error_from_rpc(error: grpc.aio.AioRpcError) -> TickstockError:
    """The exception for a failed call, with the details the server attached."""
    code = error.code()
    reason, delay = "", None
    violations: list[FieldViolation] = []
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations.extend(FieldViolation(v.field, v.description) for v in bad.field_violations)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            delay = retry.retry_delay.ToTimedelta()
    family = _FAMILIES.get(code, InternalError)
    return family(
        code, error.details() or "", reason=reason, field_violations=tuple(violations), retry_delay=delay
    )
