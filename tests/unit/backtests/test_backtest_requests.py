"""Backtest submissions: normalisation, limits and every field violation at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from backtest_fakes import (
    TODAY,
    submission,
)

from tickstock_server.domain.backtest_requests import (
    MAX_SYMBOLS,
    BacktestSubmission,
    validate_submission,
)
from tickstock_server.domain.backtests import (
    BacktestParameters,
)
from tickstock_server.errors import (
    InvalidRequestError,
)


def _violated_fields(submission: BacktestSubmission) -> set[str]:
    with pytest.raises(InvalidRequestError) as caught:
        validate_submission(submission, today=TODAY)
    return {violation.field for violation in caught.value.violations}


# --- validation ---------------------------------------------------------------------------------------


def test_valid_submission_is_normalised_with_defaults() -> None:
    # Act
    spec = validate_submission(
        submission(symbols=(" aapl", "MSFT", "AAPL", "brk.b"), parameters={"commission_rate": 0.002}),
        today=TODAY,
    )

    # Assert
    assert spec.symbols == ("AAPL", "MSFT", "BRK.B")
    assert spec.start_date == dt.date(2025, 1, 2)
    assert spec.end_date == dt.date(2025, 12, 31)
    assert spec.patterns == ("Bull_Flag", "Doji")
    assert spec.parameters == BacktestParameters(commission_rate=0.002)
    assert spec.parameters.initial_capital == 100_000.0


def test_fifty_distinct_symbols_with_repeats_are_accepted() -> None:
    # Arrange
    symbols = tuple(f"S{index}" for index in range(MAX_SYMBOLS)) * 2

    # Act
    spec = validate_submission(submission(symbols=symbols), today=TODAY)

    # Assert
    assert len(spec.symbols) == MAX_SYMBOLS


def test_span_of_exactly_1825_days_ending_today_is_accepted() -> None:
    # Arrange
    start = TODAY - dt.timedelta(days=1825)

    # Act
    spec = validate_submission(
        submission(start_date=(start.year, start.month, start.day), end_date=(2026, 1, 6)), today=TODAY
    )

    # Assert
    assert (spec.end_date - spec.start_date).days == 1825


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"symbols": tuple(f"S{index}" for index in range(51))}, {"symbols"}),
        ({"symbols": ()}, {"symbols"}),
        ({"symbols": ("AAPL", "not a ticker")}, {"symbols[1]"}),
        ({"symbols": ("",)}, {"symbols[0]"}),
        ({"start_date": (2025, 6, 1), "end_date": (2025, 1, 2)}, {"end_date"}),  # reversed
        ({"start_date": (2025, 6, 1), "end_date": (2025, 6, 1)}, {"end_date"}),  # empty period
        ({"start_date": (2021, 1, 1), "end_date": (2026, 1, 1)}, {"end_date"}),  # 1826 days
        ({"end_date": (2026, 1, 7)}, {"end_date"}),  # tomorrow
        ({"start_date": None}, {"start_date"}),
        ({"end_date": None}, {"end_date"}),
        ({"start_date": (2025, 2, 30)}, {"start_date"}),
        ({"start_date": (2025, 13, 1)}, {"start_date"}),
        ({"start_date": (1899, 12, 31)}, {"start_date"}),
        ({"start_date": (0, 0, 0)}, {"start_date"}),
        ({"patterns": ()}, {"patterns"}),
        ({"patterns": ("Bull Flag",)}, {"patterns[0]"}),
        ({"patterns": ("Doji", "x" * 65)}, {"patterns[1]"}),
        ({"patterns": tuple(f"P{index}" for index in range(51))}, {"patterns"}),
        ({"parameters": {"initial_capital": -1.0}}, {"parameters.initial_capital"}),
        ({"parameters": {"initial_capital": float("inf")}}, {"parameters.initial_capital"}),
        ({"parameters": {"commission_rate": 0.02}}, {"parameters.commission_rate"}),
        ({"parameters": {"commission_rate": float("nan")}}, {"parameters.commission_rate"}),
        ({"parameters": {"slippage_rate": -0.001}}, {"parameters.slippage_rate"}),
        ({"parameters": {"max_position_size": 1.5}}, {"parameters.max_position_size"}),
        ({"parameters": {"max_position_size": 0.0}}, {"parameters.max_position_size"}),
        ({"parameters": {"stop_loss_pct": 0.0}}, {"parameters.stop_loss_pct"}),
        ({"parameters": {"take_profit_pct": 10.5}}, {"parameters.take_profit_pct"}),
        ({"parameters": {"leverage": 2.0}}, {"parameters.leverage"}),
    ],
)
def test_invalid_submission_raises_violation_on_field(changes: dict[str, Any], fields: set[str]) -> None:
    # Act / Assert
    assert _violated_fields(submission(**changes)) == fields


@pytest.mark.parametrize(
    ("name", "value"),
    [("commission_rate", 0.0), ("commission_rate", 0.01), ("slippage_rate", 0.01), ("max_position_size", 1.0),
     ("stop_loss_pct", 1.0), ("take_profit_pct", 10.0), ("initial_capital", 1e12)],
)  # fmt: skip
def test_parameter_at_range_limit_is_accepted(name: str, value: float) -> None:
    # Act
    spec = validate_submission(submission(parameters={name: value}), today=TODAY)

    # Assert
    assert getattr(spec.parameters, name) == value


def test_every_violation_is_reported_at_once() -> None:
    # Arrange
    bad = submission(
        symbols=("bad symbol",),
        start_date=(2025, 6, 1),
        end_date=(2025, 1, 1),
        patterns=(),
        parameters={"slippage_rate": 1.0},
    )

    # Act / Assert
    assert _violated_fields(bad) == {"symbols[0]", "end_date", "patterns", "parameters.slippage_rate"}


def test_flood_of_malformed_symbols_reports_few_violations() -> None:
    # Arrange
    flood = submission(symbols=("?",) * 10_000)

    # Act
    with pytest.raises(InvalidRequestError) as caught:
        validate_submission(flood, today=TODAY)

    # Assert
    assert len(caught.value.violations) == 11
    assert caught.value.violations[-1].field == "symbols"
    assert "9990 more" in caught.value.violations[-1].description
