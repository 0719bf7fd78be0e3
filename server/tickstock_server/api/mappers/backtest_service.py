"""Conversions of `backtest_service.proto`: submissions and list requests parsed, backtests, page tokens."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, cast

from tickstock.v1 import backtest_service_pb2 as pb
from tickstock.v1 import common_pb2
from tickstock_server.api.mappers._common import (
    BAD_PAGE_TOKEN,
    decode_page_token,
    encode_page_token,
    request_binding,
    timestamp_from_ns,
)
from tickstock_server.domain.backtest_requests import BacktestSubmission, DateParts
from tickstock_server.domain.backtests import (
    Backtest,
    BacktestCursor,
    BacktestPage,
    BacktestParameters,
    BacktestResult,
    BacktestState,
    is_backtest_id_shape,
)
from tickstock_server.errors import FieldViolation, InvalidRequestError
from tickstock_server.support.time_units import NS_PER_S

_logger = logging.getLogger(__name__)

STATES: dict[BacktestState, pb.BacktestState.ValueType] = {
    BacktestState.QUEUED: pb.BACKTEST_STATE_QUEUED,
    BacktestState.RUNNING: pb.BACKTEST_STATE_RUNNING,
    BacktestState.COMPLETED: pb.BACKTEST_STATE_COMPLETED,
    BacktestState.FAILED: pb.BACKTEST_STATE_FAILED,
    BacktestState.CANCELLED: pb.BACKTEST_STATE_CANCELLED,
}
STATES_FROM_PROTO = {proto: state for state, proto in STATES.items()}

_PARAMETER_NAMES = tuple(field.name for field in dataclasses.fields(BacktestParameters))

DEFAULT_PAGE_SIZE = 20
"""Backtests per page when the request gives no page size."""
_MAX_CURSOR_NS = 4_102_444_800 * NS_PER_S
"""2100-01-01 UTC: a page token's time must be before it (a forged one may not overflow a timestamp)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestListQuery:
    """A valid ListBacktestsRequest."""

    limit: int
    """Backtests in the page, 1 to 100."""
    after: BacktestCursor | None
    """The previous page's last backtest; None for the first page."""


def list_query_from_proto(request: pb.ListBacktestsRequest, user: str) -> BacktestListQuery:
    """Page size and cursor of a request of `user`; a page token only continues the same caller's list.

    Raises:
        InvalidRequestError: A page token that is malformed, issued to another user, or holds a time
            outside 1970-2099 or an impossible id.
    """
    limit = request.page_size or DEFAULT_PAGE_SIZE  # 0 to 100 by the proto's rules
    if not request.page_token:
        return BacktestListQuery(limit=limit, after=None)
    cursor = decode_page_token(request.page_token, request_binding(request, user), (int, str))
    create_ns, backtest_id = cast(BacktestCursor, cursor)  # the shape is checked
    if not (0 <= create_ns < _MAX_CURSOR_NS and is_backtest_id_shape(backtest_id)):
        raise InvalidRequestError([FieldViolation("page_token", BAD_PAGE_TOKEN)])
    return BacktestListQuery(limit=limit, after=(create_ns, backtest_id))


def list_response_to_proto(
    request: pb.ListBacktestsRequest, user: str, page: BacktestPage
) -> pb.ListBacktestsResponse:
    """A page of `user`'s backtests, with the token of the next page (bound to `request` and `user`)."""
    cursor = page.cursor
    return pb.ListBacktestsResponse(
        backtests=[backtest_to_proto(backtest) for backtest in page.backtests],
        next_page_token="" if cursor is None else encode_page_token(request_binding(request, user), cursor),
    )


def submission_from_proto(request: pb.SubmitBacktestRequest) -> BacktestSubmission:
    """A SubmitBacktestRequest as sent, for `validate_submission`; zero parameters mean "the default"."""
    parameters: dict[str, float] = {}
    if request.HasField("parameters"):
        for name in _PARAMETER_NAMES:
            value: float = getattr(request.parameters, name)
            if value != 0:  # proto3 cannot tell an explicit 0 from unset; the API defines 0 as default
                parameters[name] = value
    return BacktestSubmission(
        symbols=tuple(request.symbols),
        start_date=date_parts_from_proto(request.start_date) if request.HasField("start_date") else None,
        end_date=date_parts_from_proto(request.end_date) if request.HasField("end_date") else None,
        patterns=tuple(request.patterns),
        parameters=parameters,
    )


def date_parts_from_proto(date: common_pb2.Date) -> DateParts:
    """A Date as sent (not yet known to exist)."""
    return (date.year, date.month, date.day)


def date_to_proto(date: dt.date) -> common_pb2.Date:
    """A date to proto."""
    return common_pb2.Date(year=date.year, month=date.month, day=date.day)


def parameters_to_proto(parameters: BacktestParameters) -> pb.BacktestParameters:
    """Trading parameters to proto."""
    return pb.BacktestParameters(**dataclasses.asdict(parameters))


def result_to_proto(result: BacktestResult) -> pb.BacktestResult:
    """Results to proto; details that a Struct cannot hold are left out with a warning."""
    proto = pb.BacktestResult(
        total_return=result.total_return,
        win_rate=result.win_rate,
        total_trades=result.total_trades,
        sharpe_ratio=result.sharpe_ratio,
        max_drawdown=result.max_drawdown,
    )
    try:
        proto.details.update(cast(dict[str, Any], result.details))  # JSON values, checked by protobuf
    except (ValueError, TypeError, AttributeError) as exc:
        # The producer's details are JSON and always fit; this guards the stream, not the common case.
        proto.ClearField("details")
        _logger.warning("backtest result details left out: %s", exc)
    return proto


def backtest_to_proto(backtest: Backtest) -> pb.Backtest:
    """A backtest to proto."""
    proto = pb.Backtest(
        backtest_id=backtest.backtest_id,
        state=STATES[backtest.state],
        symbols=backtest.symbols,
        start_date=date_to_proto(backtest.start_date),
        end_date=date_to_proto(backtest.end_date),
        patterns=backtest.patterns,
        parameters=parameters_to_proto(backtest.parameters),
        progress=backtest.progress,
        current_symbol=backtest.current_symbol,
        error_message=backtest.error_message,
        create_time=timestamp_from_ns(backtest.create_ns),
        update_time=timestamp_from_ns(backtest.update_ns),
    )
    if backtest.estimated_completion_ns is not None:
        proto.estimated_completion_time.CopyFrom(timestamp_from_ns(backtest.estimated_completion_ns))
    if backtest.result is not None:
        proto.result.CopyFrom(result_to_proto(backtest.result))
    return proto
