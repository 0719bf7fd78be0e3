"""BacktestService's messages as models: every field, unknown states, absent optional fields, JSON."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest
from google.protobuf import struct_pb2

from tickstock.v1 import backtest_service_pb2 as pb
from tickstock.v1 import common_pb2
from tickstock_client import Backtest, BacktestParameters, BacktestResult, BacktestState
from tickstock_client._backtest_proto import (
    backtest_from_proto,
    backtest_parameters_from_proto,
    backtest_parameters_to_proto,
    date_to_proto,
)
from tickstock_client._json import to_plain

SECONDS = 1_767_700_800  # 2026-01-06T12:00:00Z
MOMENT = datetime(2026, 1, 6, 12, 0, tzinfo=UTC)
PARAMETERS = pb.BacktestParameters(
    initial_capital=50_000, commission_rate=0.002, slippage_rate=0.001, max_position_size=0.2,
    stop_loss_pct=0.03, take_profit_pct=0.2,
)  # fmt: skip


def _completed() -> pb.Backtest:
    details = struct_pb2.Struct()
    details.update({"trades": [{"symbol": "AAPL", "pnl": 12.5}], "note": "ok", "flagged": False})
    message = pb.Backtest(
        backtest_id="backtest_1767700800_0123456789abcdef", state=pb.BACKTEST_STATE_COMPLETED,
        symbols=["AAPL", "MSFT"], start_date=common_pb2.Date(year=2025, month=1, day=2),
        end_date=common_pb2.Date(year=2025, month=12, day=31), patterns=["Bull_Flag", "Doji"],
        parameters=PARAMETERS, progress=1.0, current_symbol="MSFT",
        result=pb.BacktestResult(
            total_return=0.12, win_rate=0.6, total_trades=25, sharpe_ratio=1.4, max_drawdown=0.08,
            details=details,
        ),
    )  # fmt: skip
    message.estimated_completion_time.FromSeconds(SECONDS + 60)
    message.create_time.FromSeconds(SECONDS)
    message.update_time.FromSeconds(SECONDS + 90)
    return message


def test_a_completed_backtest_carries_every_field() -> None:
    # Act
    backtest = backtest_from_proto(_completed())

    # Assert
    assert backtest == Backtest(
        backtest_id="backtest_1767700800_0123456789abcdef",
        state=BacktestState.COMPLETED,
        symbols=("AAPL", "MSFT"),
        start_date=date(2025, 1, 2),
        end_date=date(2025, 12, 31),
        patterns=("Bull_Flag", "Doji"),
        parameters=BacktestParameters(
            initial_capital=50_000, commission_rate=0.002, slippage_rate=0.001, max_position_size=0.2,
            stop_loss_pct=0.03, take_profit_pct=0.2,
        ),
        progress=1.0,
        current_symbol="MSFT",
        estimated_completion_time=datetime(2026, 1, 6, 12, 1, tzinfo=UTC),
        result=BacktestResult(
            total_return=0.12, win_rate=0.6, total_trades=25, sharpe_ratio=1.4, max_drawdown=0.08,
            details={"trades": [{"symbol": "AAPL", "pnl": 12.5}], "note": "ok", "flagged": False},
        ),
        error_message="",
        create_time=MOMENT,
        update_time=datetime(2026, 1, 6, 12, 1, 30, tzinfo=UTC),
    )  # fmt: skip
    assert type(backtest.result.details) is dict  # type: ignore[union-attr]


def test_a_queued_backtest_without_optional_fields_reads_none_and_default_parameters() -> None:
    # Act
    backtest = backtest_from_proto(pb.Backtest(backtest_id="b", state=pb.BACKTEST_STATE_QUEUED))

    # Assert
    assert backtest.state is BacktestState.QUEUED
    assert (backtest.start_date, backtest.end_date, backtest.result) == (None, None, None)
    assert (backtest.estimated_completion_time, backtest.create_time, backtest.update_time) == (None,) * 3
    assert backtest.parameters == BacktestParameters()
    assert (backtest.progress, backtest.current_symbol, backtest.error_message) == (0.0, "", "")


def test_a_failed_backtest_carries_its_error_message() -> None:
    # Act
    backtest = backtest_from_proto(
        pb.Backtest(backtest_id="b", state=pb.BACKTEST_STATE_FAILED, error_message="no data for AAPL")
    )

    # Assert
    assert (backtest.state, backtest.error_message, backtest.result) == (
        BacktestState.FAILED,
        "no data for AAPL",
        None,
    )


@pytest.mark.parametrize(
    ("number", "state"),
    [
        (pb.BACKTEST_STATE_RUNNING, BacktestState.RUNNING),
        (pb.BACKTEST_STATE_CANCELLED, BacktestState.CANCELLED),
        (pb.BACKTEST_STATE_UNSPECIFIED, BacktestState.UNKNOWN),
        (99, BacktestState.UNKNOWN),  # a newer server's state
    ],
)
def test_states_read_by_name_and_unknown_ones_as_unknown(number: int, state: BacktestState) -> None:
    # Act
    backtest = backtest_from_proto(pb.Backtest(backtest_id="b", state=number))  # type: ignore[arg-type]

    # Assert
    assert backtest.state is state


@pytest.mark.parametrize(
    ("state", "final"),
    [
        (BacktestState.QUEUED, False),
        (BacktestState.RUNNING, False),
        (BacktestState.UNKNOWN, False),
        (BacktestState.COMPLETED, True),
        (BacktestState.FAILED, True),
        (BacktestState.CANCELLED, True),
    ],
)
def test_only_completed_failed_and_cancelled_are_final(state: BacktestState, final: bool) -> None:
    assert state.is_final is final


def test_a_day_that_does_not_exist_reads_none_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    # Arrange
    message = pb.Backtest(backtest_id="b", start_date=common_pb2.Date(year=2025, month=2, day=30))

    # Act
    with caplog.at_level(logging.WARNING):
        backtest = backtest_from_proto(message)

    # Assert
    assert backtest.start_date is None
    assert "start_date 2025-2-30 is no date" in caplog.text


def test_parameters_and_days_round_trip() -> None:
    # Arrange
    parameters = BacktestParameters(initial_capital=25_000, take_profit_pct=0.5)

    # Act
    message = backtest_parameters_to_proto(parameters)
    day = date_to_proto(date(2025, 3, 14))

    # Assert
    assert backtest_parameters_from_proto(message) == parameters
    assert message.commission_rate == 0.001  # the defaults are sent as values
    assert (day.year, day.month, day.day) == (2025, 3, 14)


def test_a_backtest_as_json_has_iso_days_and_plain_details() -> None:
    # Act
    plain = to_plain(backtest_from_proto(_completed()))

    # Assert
    assert (plain["state"], plain["start_date"], plain["end_date"]) == (
        "completed",
        "2025-01-02",
        "2025-12-31",
    )
    assert plain["create_time"] == "2026-01-06T12:00:00Z"
    assert plain["parameters"]["initial_capital"] == 50_000
    assert plain["result"]["details"]["trades"] == [{"symbol": "AAPL", "pnl": 12.5}]
