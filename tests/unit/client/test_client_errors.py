"""Refusals become one exception class per status family, with the server's details attached."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from tickstock_client import (
    AlreadyExistsError,
    FieldViolation,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
)
from tickstock_client._errors import error_from_rpc


def _error(code: grpc.StatusCode, message: str, *details: object) -> grpc.aio.AioRpcError:
    packed = []
    for detail in details:
        wrapper = any_pb2.Any()
        wrapper.Pack(detail)  # type: ignore[arg-type]
        packed.append(wrapper)
    status = status_pb2.Status(code=code.value[0], message=message, details=packed)
    trailing = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailing, details=message)


@pytest.mark.parametrize(
    ("code", "family"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, InvalidArgumentError),
        (grpc.StatusCode.OUT_OF_RANGE, InvalidArgumentError),
        (grpc.StatusCode.FAILED_PRECONDITION, InvalidArgumentError),
        (grpc.StatusCode.NOT_FOUND, NotFoundError),
        (grpc.StatusCode.ALREADY_EXISTS, AlreadyExistsError),
        (grpc.StatusCode.UNAUTHENTICATED, UnauthenticatedError),
        (grpc.StatusCode.PERMISSION_DENIED, PermissionDeniedError),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, ResourceExhaustedError),
        (grpc.StatusCode.UNAVAILABLE, UnavailableError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, UnavailableError),
        (grpc.StatusCode.UNIMPLEMENTED, UnimplementedError),
        (grpc.StatusCode.INTERNAL, InternalError),
        (grpc.StatusCode.DATA_LOSS, InternalError),
        (grpc.StatusCode.UNKNOWN, InternalError),
    ],
)
def test_each_status_code_maps_to_its_family(code: grpc.StatusCode, family: type) -> None:
    error = error_from_rpc(_error(code, "nope"))

    assert type(error) is family
    assert error.code is code
    assert error.message == "nope"


def test_field_violations_reason_and_retry_delay_are_kept() -> None:
    bad = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(
                field="filter.symbols[0]", description="not a ticker"
            ),
            error_details_pb2.BadRequest.FieldViolation(field="filter.min_price", description="not finite"),
        ]
    )
    info = error_details_pb2.ErrorInfo(reason="INVALID_ARGUMENT", domain="tickstock.v1")
    retry = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=2, nanos=500_000_000))

    error = error_from_rpc(_error(grpc.StatusCode.INVALID_ARGUMENT, "bad filter", bad, info, retry))

    assert error.field_violations == (
        FieldViolation("filter.symbols[0]", "not a ticker"),
        FieldViolation("filter.min_price", "not finite"),
    )
    assert error.reason == "INVALID_ARGUMENT"
    assert error.retry_delay == timedelta(seconds=2.5)
    assert str(error) == "INVALID_ARGUMENT: bad filter"


def test_an_error_without_details_has_empty_ones() -> None:
    plain = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "down"
    )

    error = error_from_rpc(plain)

    assert (error.reason, error.field_violations, error.retry_delay) == ("", (), None)
