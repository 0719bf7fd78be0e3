"""Producer simulator messages: the contract's keys and types, determinism, jobs and the CLI parser."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import pytest

from tickstock_server.producer_sim import DEFAULT_SYMBOLS, ProducerChannels, SimulatorConfig
from tickstock_server.producer_sim.__main__ import build_parser
from tickstock_server.producer_sim.backtests import (
    BacktestJob,
    parse_backtest_job,
    simulated_backtest_results,
)
from tickstock_server.producer_sim.contract import (
    backtest_progress_message,
    backtest_result_message,
    encode_message,
    heartbeat_value,
    system_health_message,
)
from tickstock_server.producer_sim.pattern_stream import PRODUCER_PATTERNS, PatternGenerator
from tickstock_server.simulation.market import REAL_TICKERS, synthetic_symbols

NOW_S = 1_767_700_000.125
PATTERN_NAMES = {p.name for p in PRODUCER_PATTERNS}
DATA_KEYS = {
    "symbol",
    "pattern",
    "confidence",
    "flow_id",
    "tier",
    "price_change",
    "current_price",
    "volume",
    "timestamp",
    "expires_at",
    "indicators",
}


def messages(count: int, seed: int = 42, symbols: tuple[str, ...] = DEFAULT_SYMBOLS) -> list[dict[str, Any]]:
    generator = PatternGenerator(symbols, seed)
    return [generator.next_message(NOW_S + i) for i in range(count)]


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- pattern envelopes ---------------------------------------------------------------------------------


def test_pattern_envelope_has_the_contract_keys_and_types() -> None:
    # Act
    envelopes = messages(500)

    # Assert
    for envelope in envelopes:
        assert set(envelope) == {"event_type", "source", "timestamp", "data"}
        assert envelope["event_type"] == "pattern_detected"
        assert envelope["source"] == "TickStockPL"
        assert is_number(envelope["timestamp"])
        data = envelope["data"]
        assert set(data) == DATA_KEYS
        assert data["symbol"] in DEFAULT_SYMBOLS
        assert data["pattern"] in PATTERN_NAMES
        assert is_number(data["confidence"]) and 0.5 <= data["confidence"] <= 0.95
        assert uuid.UUID(data["flow_id"]).version == 4
        assert data["tier"] in {"daily", "intraday", "combo"}
        assert is_number(data["price_change"]) and -10 <= data["price_change"] <= 10
        assert is_number(data["current_price"]) and data["current_price"] > 0
        assert isinstance(data["volume"], int) and data["volume"] >= 100
        assert data["timestamp"] == envelope["timestamp"]
        assert data["timestamp"] < data["expires_at"] <= data["timestamp"] + 3600
        indicators = data["indicators"]
        assert set(indicators) == {"relative_strength", "relative_volume", "rsi"}
        assert all(is_number(value) for value in indicators.values())
        assert indicators["relative_strength"] > 0
        assert indicators["relative_volume"] > 0
        assert 0 <= indicators["rsi"] <= 100


def test_pattern_envelopes_cover_names_tiers_and_confidence_skew() -> None:
    # Act
    envelopes = messages(2000)

    # Assert
    data = [e["data"] for e in envelopes]
    assert {d["pattern"] for d in data} == PATTERN_NAMES
    assert {d["tier"] for d in data} == {"daily", "intraday", "combo"}
    confidences = sorted(d["confidence"] for d in data)
    median = confidences[len(confidences) // 2]
    assert 0.6 < median < 0.75  # skewed: most patterns are middling, few near 0.95
    assert len({d["flow_id"] for d in data}) == len(data)
    spikes = [d["indicators"]["relative_volume"] for d in data if d["pattern"] == "Volume_Spike"]
    assert spikes and min(spikes) >= 2.0  # a volume spike comes with at least twice the usual volume


def test_same_seed_and_times_give_identical_messages() -> None:
    # Act
    first = [encode_message(m) for m in messages(200, seed=7)]
    second = [encode_message(m) for m in messages(200, seed=7)]
    other = [encode_message(m) for m in messages(200, seed=8)]

    # Assert
    assert first == second
    assert first != other


def test_synthetic_universe_patterns_favour_large_caps_at_real_price_levels() -> None:
    # Act
    data = [m["data"] for m in messages(1000)]

    # Assert
    real = [d for d in data if d["symbol"] in REAL_TICKERS]
    assert len(real) > len(data) / 2  # 60 large caps out of 200 symbols, but they trade far more
    aapl = [d["current_price"] for d in data if d["symbol"] == "AAPL"]
    assert aapl and all(200 < price < 350 for price in aapl)  # the synthetic feed starts AAPL at $270


def test_symbol_list_patterns_use_only_listed_symbols_at_plausible_prices() -> None:
    # Act
    data = [m["data"] for m in messages(300, symbols=("AAPL", "ZZZ", "BRK.B"))]

    # Assert
    assert {d["symbol"] for d in data} == {"AAPL", "ZZZ", "BRK.B"}
    assert all(3 < d["current_price"] < 800 for d in data)


def test_encoded_message_is_compact_json_round_trip() -> None:
    # Arrange
    (envelope,) = messages(1)

    # Act
    text = encode_message(envelope)

    # Assert
    assert json.loads(text) == envelope
    assert ": " not in text and ", " not in text


def test_generator_without_symbols_raises_value_error() -> None:
    with pytest.raises(ValueError):
        PatternGenerator((), 1)


# --- heartbeat, health, backtest messages --------------------------------------------------------------


def test_heartbeat_value_is_an_epoch_float_literal() -> None:
    assert float(heartbeat_value(NOW_S)) == NOW_S
    assert heartbeat_value(1_767_700_000) == "1767700000.0"


def test_system_health_message_has_envelope_and_counters() -> None:
    # Act
    message = system_health_message(now_s=NOW_S, uptime_s=61.26, patterns_published=300, active_backtests=2)

    # Assert
    assert message == {
        "event_type": "system_health",
        "source": "TickStockPL",
        "timestamp": round(NOW_S, 3),
        "data": {
            "status": "healthy",
            "uptime_seconds": 61.3,
            "patterns_published": 300,
            "active_backtests": 2,
            "components": {"pattern_engine": "healthy", "backtest_worker": "healthy", "redis": "healthy"},
        },
    }


def test_progress_and_result_messages_have_exactly_the_contract_keys() -> None:
    # Act
    progress = backtest_progress_message(
        job_id="backtest_1_abcd", progress=1 / 3, current_symbol="AAPL", estimated_completion_s=NOW_S
    )
    result = backtest_result_message(
        job_id="backtest_1_abcd", status="completed", results={"total_trades": 3}
    )

    # Assert
    assert progress == {
        "job_id": "backtest_1_abcd",
        "progress": 0.3333,
        "current_symbol": "AAPL",
        "estimated_completion": round(NOW_S, 3),
    }
    assert result == {"job_id": "backtest_1_abcd", "status": "completed", "results": {"total_trades": 3}}


def job_message(**overrides: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "backtest_job",
        "job_id": "backtest_1767700000_ab12cd34",
        "user_id": "alice",
        "symbols": ["AAPL", "MSFT"],
        "start_date": "2024-01-01",
        "end_date": "2024-06-30",
        "patterns": ["Bull_Flag", "Doji", "Bull_Flag"],
        "parameters": {"initial_capital": 100000, "commission_rate": 0.001},
        "timestamp": NOW_S,
        "source": "tickstock_appv2",
    }
    message.update(overrides)
    return message


def test_job_message_parses_with_unique_patterns() -> None:
    assert parse_backtest_job(job_message()) == BacktestJob(
        job_id="backtest_1767700000_ab12cd34", symbols=("AAPL", "MSFT"), patterns=("Bull_Flag", "Doji")
    )


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ([1, 2], "not a JSON object"),
        (job_message(job_id=None), "no job_id"),
        (job_message(job_id=""), "no job_id"),
        (job_message(job_id="x" * 201), "no job_id"),
        (job_message(symbols=[]), "symbols must be a non-empty list of strings"),
        (job_message(symbols="AAPL"), "symbols must be a non-empty list of strings"),
        (job_message(symbols=["AAPL", 3]), "symbols must be a non-empty list of strings"),
        (job_message(patterns=None), "patterns must be a non-empty list of strings"),
    ],
)
def test_invalid_job_message_returns_reason(payload: object, reason: str) -> None:
    assert parse_backtest_job(payload) == reason


def test_backtest_results_have_metrics_and_per_pattern_breakdown() -> None:
    # Arrange
    job = BacktestJob(job_id="j1", symbols=("AAPL", "MSFT", "NVDA"), patterns=("Bull_Flag", "Doji"))

    # Act
    results = simulated_backtest_results(random.Random("42:j1"), job)

    # Assert
    assert set(results) == {
        "total_return",
        "win_rate",
        "total_trades",
        "sharpe_ratio",
        "max_drawdown",
        "per_pattern",
    }
    assert set(results["per_pattern"]) == {"Bull_Flag", "Doji"}
    per_pattern = results["per_pattern"].values()
    assert all(set(p) == {"trades", "win_rate", "total_return"} for p in per_pattern)
    assert results["total_trades"] == sum(p["trades"] for p in per_pattern)
    assert all(p["trades"] % 3 == 0 and p["trades"] > 0 for p in per_pattern)  # per symbol
    assert 0.35 <= results["win_rate"] <= 0.70
    assert 2.0 <= results["max_drawdown"] <= 25.0
    assert all(is_number(results[k]) for k in ("total_return", "sharpe_ratio"))
    assert simulated_backtest_results(random.Random("42:j1"), job) == results


# --- configuration and command line --------------------------------------------------------------------


def test_default_symbols_are_the_first_200_synthetic_symbols() -> None:
    assert synthetic_symbols(200) == DEFAULT_SYMBOLS
    assert SimulatorConfig().symbols == DEFAULT_SYMBOLS


def test_channels_with_prefix_prefix_every_name_and_key() -> None:
    # Act
    channels = ProducerChannels().with_prefix("t1:")

    # Assert
    assert channels.patterns == "t1:tickstock.events.patterns"
    assert channels.heartbeat_key == "t1:tickstock:producer:heartbeat"
    assert channels.backtest_cancel == "t1:tickstock.jobs.cancel"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"patterns_per_s": -1},
        {"burst_wait_s": -1},
        {"symbols": ()},
        {"heartbeat_s": 0},
        {"health_interval_s": 0},
        {"backtest_max_steps": 1},
        {"max_backtest_jobs": 0},
    ],
)
def test_invalid_config_raises_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SimulatorConfig(**kwargs)


def test_cli_defaults_match_the_config() -> None:
    # Act
    args = build_parser().parse_args(["--redis-url", "redis://127.0.0.1:6379/0"])

    # Assert
    assert (args.patterns_per_s, args.seed, args.heartbeat_s, args.duration_s) == (5.0, 42, 15.0, None)
    assert args.symbols == DEFAULT_SYMBOLS


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", synthetic_symbols(3)), ("aapl, MSFT,,BRK.B,AAPL", ("AAPL", "MSFT", "BRK.B"))],
)
def test_cli_symbols_take_a_count_or_a_list(value: str, expected: tuple[str, ...]) -> None:
    args = build_parser().parse_args(["--redis-url", "redis://h", "--symbols", value])
    assert args.symbols == expected


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--redis-url", "redis://h", "--symbols", "0"],
        ["--redis-url", "redis://h", "--symbols", "A$B"],
        ["--redis-url", "redis://h", "--patterns-per-s", "-1"],
        ["--redis-url", "redis://h", "--heartbeat-s", "0"],
    ],
)
def test_cli_rejects_bad_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
