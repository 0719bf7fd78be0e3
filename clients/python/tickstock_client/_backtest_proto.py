"""Conversions of BacktestService's messages: backtests, their parameters, results and days (see `_proto`)."""

from __future__ import annotations

import dataclasses
import logging
from datetime import date

from google.protobuf import json_format

from tickstock.v1 import backtest_service_pb2, common_pb2
from tickstock_client._backtest_models import Backtest, BacktestParameters, BacktestResult, BacktestState
from tickstock_client._proto import enum_from_proto, optional_datetime, proto_name

__all__ = [
    "backtest_from_proto",
    "backtest_parameters_from_proto",
    "backtest_parameters_to_proto",
    "backtest_result_from_proto",
    "date_from_proto",
    "date_to_proto",
]

_logger = logging.getLogger(__name__)


def date_to_proto(day: date) -> common_pb2.Date:
    return common_pb2.Date(year=day.year, month=day.month, day=day.day)


def date_from_proto(parent: object, field: str) -> date | None:
    """The day in `field` of `parent`; None when it is not set, or is no day (logged, not raised)."""
    if not parent.HasField(field):  # type: ignore[attr-defined]
        return None
    message: common_pb2.Date = getattr(parent, field)
    try:
        return date(message.year, message.month, message.day)
    except ValueError:
        # A watch stream should outlive one bad field of a newer or faulty server.
        _logger.warning(
            "%s %d-%d-%d is no date; read as None", field, message.year, message.month, message.day
        )
        return None


def backtest_parameters_to_proto(parameters: BacktestParameters) -> backtest_service_pb2.BacktestParameters:
    return backtest_service_pb2.BacktestParameters(**dataclasses.asdict(parameters))


def backtest_parameters_from_proto(message: backtest_service_pb2.BacktestParameters) -> BacktestParameters:
    # Zero on the wire means "the default", so an unset field reads as the dataclass default.
    values = {
        field.name: getattr(message, field.name)
        for field in dataclasses.fields(BacktestParameters)
        if getattr(message, field.name) != 0
    }
    return BacktestParameters(**values)


def backtest_result_from_proto(message: backtest_service_pb2.BacktestResult) -> BacktestResult:
    return BacktestResult(
        total_return=message.total_return,
        win_rate=message.win_rate,
        total_trades=message.total_trades,
        sharpe_ratio=message.sharpe_ratio,
        max_drawdown=message.max_drawdown,
        details=json_format.MessageToDict(message.details),
    )


def backtest_from_proto(message: backtest_service_pb2.Backtest) -> Backtest:
    return Backtest(
        backtest_id=message.backtest_id,
        state=enum_from_proto(
            BacktestState, proto_name(backtest_service_pb2.BacktestState, message.state), "BACKTEST_STATE_"
        ),
        symbols=tuple(message.symbols),
        start_date=date_from_proto(message, "start_date"),
        end_date=date_from_proto(message, "end_date"),
        patterns=tuple(message.patterns),
        parameters=backtest_parameters_from_proto(message.parameters),
        progress=message.progress,
        current_symbol=message.current_symbol,
        estimated_completion_time=optional_datetime(message, "estimated_completion_time"),
        result=backtest_result_from_proto(message.result) if message.HasField("result") else None,
        error_message=message.error_message,
        create_time=optional_datetime(message, "create_time"),
        update_time=optional_datetime(message, "update_time"),
    )
