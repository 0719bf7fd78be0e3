"""Producer backtest progress and results, and the producer's health messages."""

from typing import Any

import pytest
from producer_messages import _DROP, PROGRESS, PUBLISHED_S, RECEIVED_NS, RESULTS, encode, reason_of

from tickstock_server.domain.backtests import (
    MAX_ERROR_MESSAGE_CHARS,
    BacktestOutcome,
    BacktestResult,
    BacktestState,
    OutcomeReport,
)
from tickstock_server.producer.events import (
    BacktestProgress,
    ProducerHealth,
)
from tickstock_server.producer.messages import (
    parse_backtest_outcome,
    parse_backtest_progress,
    parse_producer_health,
)

# --- backtest progress --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(PROGRESS, id="flat"),
        pytest.param(
            {"event_type": "backtest_progress", "timestamp": PUBLISHED_S, "data": PROGRESS}, id="envelope"
        ),
    ],
)
def test_backtest_progress_shapes_parse(message: dict[str, Any]) -> None:
    assert parse_backtest_progress(encode(message), received_ns=RECEIVED_NS) == BacktestProgress(
        job_id="backtest_1767700000_1a2b3c4d",
        progress=0.45,
        current_symbol="MSFT",
        estimated_completion_ns=1_767_700_120_000_000_000,
        received_ns=RECEIVED_NS,
    )


def test_backtest_progress_iso_completion_is_utc_and_optional_fields_may_be_absent() -> None:
    iso = parse_backtest_progress(
        encode({**PROGRESS, "estimated_completion": "2026-01-06T11:48:40"}), received_ns=RECEIVED_NS
    )
    bare = parse_backtest_progress(encode({"job_id": "j1", "progress": 1}), received_ns=RECEIVED_NS)

    assert iso.estimated_completion_ns == 1_767_700_120_000_000_000
    assert (bare.progress, bare.current_symbol, bare.estimated_completion_ns) == (1.0, None, None)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"progress": 45}, "bad_progress"),  # a percentage is not silently rescaled
        ({"progress": "45%"}, "bad_progress"),
        ({"progress": -0.1}, "bad_progress"),
        ({"job_id": ""}, "bad_job_id"),
        ({"job_id": 17}, "bad_job_id"),
        ({"job_id": _DROP}, "missing_job_id"),
        ({"progress": _DROP}, "missing_progress"),
        ({"current_symbol": "bad symbol"}, "bad_current_symbol"),
        ({"estimated_completion": "soon"}, "bad_estimated_completion"),
        ({"estimated_completion": 120}, "bad_estimated_completion"),  # seconds left, not a time
    ],
)
def test_invalid_backtest_progress_is_rejected(overrides: dict[str, Any], reason: str) -> None:
    message = {key: value for key, value in {**PROGRESS, **overrides}.items() if value is not _DROP}

    assert reason_of(parse_backtest_progress, encode(message)) == reason


# --- backtest results ---------------------------------------------------------------------------------------


def test_completed_backtest_result_keeps_metrics_and_every_other_result() -> None:
    report = parse_backtest_outcome(
        encode({"job_id": "j1", "status": "completed", "results": RESULTS}), received_ns=RECEIVED_NS
    )

    assert report == OutcomeReport(
        backtest_id="j1",
        outcome=BacktestOutcome(
            state=BacktestState.COMPLETED,
            result=BacktestResult(
                total_return=0.124,
                win_rate=0.58,
                total_trades=42,
                sharpe_ratio=1.35,
                max_drawdown=-0.08,
                details={"equity_curve": [100_000, 101_200], "by_pattern": {"Doji": 12}},
            ),
        ),
        received_ns=RECEIVED_NS,
    )
    assert report.outcome.result is not None
    with pytest.raises(TypeError):
        report.outcome.result.details["total_return"] = 1.0  # type: ignore[index]


@pytest.mark.parametrize(
    ("message", "state", "error"),
    [
        ({"job_id": "j1", "results": {}}, BacktestState.COMPLETED, ""),  # the original's default
        ({"job_id": "j1", "status": "failed", "error": "no data"}, BacktestState.FAILED, "no data"),
        (
            {"job_id": "j1", "status": "failed", "results": {"error": "timeout"}},
            BacktestState.FAILED,
            "timeout",
        ),
        (
            {"job_id": "j1", "status": "failed", "results": {"error": "", "reason": "no bars"}},
            BacktestState.FAILED,
            "no bars",
        ),
        ({"job_id": "j1", "status": "cancelled"}, BacktestState.CANCELLED, ""),
        ({"job_id": "j1", "status": "Canceled"}, BacktestState.CANCELLED, ""),
        (
            {"job_id": "j1", "status": "timeout"},
            BacktestState.FAILED,
            "the producer reported status 'timeout'",
        ),
        ({"job_id": "j1", "status": "error"}, BacktestState.FAILED, "the producer reported status 'error'"),
        ({"data": {"job_id": "j1", "status": "completed"}}, BacktestState.COMPLETED, ""),
    ],
)
def test_backtest_result_status_maps_to_outcome(
    message: dict[str, Any], state: BacktestState, error: str
) -> None:
    report = parse_backtest_outcome(encode(message), received_ns=RECEIVED_NS)

    outcome = report.outcome
    assert (report.backtest_id, outcome.state, outcome.error_message) == ("j1", state, error)
    assert (outcome.result is not None) is (state is BacktestState.COMPLETED)


def test_error_given_apart_wins_over_results_and_loses_nul_characters() -> None:
    message = {"job_id": "j1", "status": "failed", "error": "out\x00side", "results": {"error": "in results"}}

    outcome = parse_backtest_outcome(encode(message), received_ns=RECEIVED_NS).outcome

    assert (outcome.state, outcome.error_message) == (BacktestState.FAILED, "outside")


def test_long_error_message_is_cut() -> None:
    message = {"job_id": "j1", "status": "failed", "error": "e" * 1500}

    outcome = parse_backtest_outcome(encode(message), received_ns=RECEIVED_NS).outcome

    assert outcome.error_message == "e" * MAX_ERROR_MESSAGE_CHARS


def test_integral_float_trade_count_is_a_count() -> None:
    report = parse_backtest_outcome(
        encode({"job_id": "j1", "results": {"total_trades": 42.0}}), received_ns=RECEIVED_NS
    )

    result = report.outcome.result
    assert result is not None
    assert result.total_trades == 42 and type(result.total_trades) is int


def test_metric_sent_as_null_stays_in_details_with_the_rest() -> None:
    results = {"total_return": 0.12, "win_rate": 0.6, "total_trades": 42, "sharpe_ratio": None,
               "per_pattern": {"Doji": {"trades": 3}}}  # fmt: skip

    result = parse_backtest_outcome(
        encode({"job_id": "j1", "results": results}), received_ns=RECEIVED_NS
    ).outcome.result

    assert result is not None
    assert (result.total_return, result.win_rate, result.total_trades) == (0.12, 0.6, 42)
    assert result.sharpe_ratio == 0.0
    assert result.details == {"sharpe_ratio": None, "per_pattern": {"Doji": {"trades": 3}}}


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"job_id": "j1", "results": [1, 2]}, "bad_results"),
        ({"job_id": "j1", "results": {"total_trades": 4.5}}, "bad_total_trades"),
        ({"job_id": "j1", "results": {"win_rate": "58%"}}, "bad_win_rate"),
        ({"job_id": "j1", "results": {"sharpe_ratio": True}}, "bad_sharpe_ratio"),  # a bool is not a ratio
        ({"job_id": "j1", "status": 1}, "bad_status"),
        ({"status": "completed"}, "missing_job_id"),
    ],
)
def test_invalid_backtest_result_is_rejected(message: dict[str, Any], reason: str) -> None:
    assert reason_of(parse_backtest_outcome, encode(message)) == reason


# --- producer health ----------------------------------------------------------------------------------------


def test_health_envelope_parses() -> None:
    message = {"event_type": "system_health", "source": "TickStockPL", "timestamp": PUBLISHED_S,
               "data": {"status": "healthy", "patterns_per_min": 42}}  # fmt: skip

    health = parse_producer_health(encode(message), received_ns=RECEIVED_NS)

    assert health == ProducerHealth(
        source="TickStockPL",
        status="healthy",
        reported_ns=1_767_700_001_500_000_000,
        details={"status": "healthy", "patterns_per_min": 42},
        received_ns=RECEIVED_NS,
    )


def test_flat_health_without_timestamp_uses_details_and_receive_time() -> None:
    health = parse_producer_health(encode({"status": "degraded", "lag_s": 3}), received_ns=RECEIVED_NS)

    assert (health.source, health.status, health.reported_ns) == ("", "degraded", RECEIVED_NS)
    assert health.details == {"status": "degraded", "lag_s": 3}


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"event_type": "pattern_detected", "data": {}}, "unknown_event_type"),
        ({"event_type": "system_health", "data": [1]}, "bad_data"),
        ({"event_type": "system_health", "source": 5}, "bad_source"),
        ({"event_type": "system_health", "timestamp": "now"}, "bad_timestamp"),
    ],
)
def test_invalid_health_is_rejected(message: dict[str, Any], reason: str) -> None:
    assert reason_of(parse_producer_health, encode(message)) == reason
