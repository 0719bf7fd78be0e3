"""`tickstock backtest` against the in-process BacktestService, the test playing the producer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from api_server import ServerFactory
from backtest_api import Harness, running_backtests
from cli_runner import Printed, run_cli
from polling import eventually

from tickstock_client.cli import main
from tickstock_server.domain.backtests import BacktestOutcome, BacktestResult, BacktestState

SUBMIT = ("backtest", "submit", "aapl", "MSFT", "--start", "2025-01-02", "--end", "2025-06-30")


@pytest.fixture
async def harness(start_api_server: ServerFactory, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    async with running_backtests(start_api_server) as harness:
        monkeypatch.setenv("TICKSTOCK_API_KEY", harness.api.token)
        monkeypatch.setenv("TICKSTOCK_TARGET", f"127.0.0.1:{harness.api.port}")
        yield harness


def _lines(capfd: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capfd.readouterr().out.splitlines()]


async def test_submit_show_list_and_cancel_print_json_lines(
    harness: Harness, capfd: pytest.CaptureFixture[str]
) -> None:
    # Act
    submitted_code = await run_cli(*SUBMIT, "--patterns", "Bull_Flag,Doji", "--capital", "50000")
    [submitted] = _lines(capfd)
    shown_code = await run_cli("backtest", "show", submitted["backtest_id"])
    [shown] = _lines(capfd)
    await run_cli(*SUBMIT, "--patterns", "Hammer")
    [second] = _lines(capfd)
    listed_code = await run_cli("backtest", "list")
    listed = _lines(capfd)
    limited = await run_cli("backtest", "list", "--limit", "1")
    [newest] = _lines(capfd)
    cancelled_code = await run_cli("backtest", "cancel", submitted["backtest_id"])
    [cancelled] = _lines(capfd)

    # Assert
    assert (submitted_code, shown_code, listed_code, limited, cancelled_code) == (0, 0, 0, 0, 0)
    assert (submitted["state"], submitted["symbols"], submitted["patterns"]) == (
        "queued",
        ["AAPL", "MSFT"],
        ["Bull_Flag", "Doji"],
    )
    assert (submitted["start_date"], submitted["end_date"]) == ("2025-01-02", "2025-06-30")
    assert (submitted["parameters"]["initial_capital"], submitted["parameters"]["commission_rate"]) == (
        50_000,
        0.001,
    )
    assert submitted["result"] is None
    assert submitted["create_time"].startswith("2026-01-06T12:00:00")  # the jobs' clock
    assert shown == submitted
    assert [b["backtest_id"] for b in listed] == [second["backtest_id"], submitted["backtest_id"]]
    assert newest == second
    assert (cancelled["backtest_id"], cancelled["state"]) == (submitted["backtest_id"], "cancelled")


async def test_a_refused_submission_exits_1_with_its_violations(
    harness: Harness, capfd: pytest.CaptureFixture[str]
) -> None:
    # Act
    code = await run_cli("backtest", "submit", "AAPL", "--start", "2025-06-30", "--end", "2025-01-02",
                         "--patterns", "Bull Flag")  # fmt: skip

    # Assert
    assert code == 1
    err = capfd.readouterr().err
    assert "end_date:" in err and "patterns[0]:" in err
    assert harness.store.rows == {}


async def test_show_of_an_unknown_backtest_exits_1(
    harness: Harness, capfd: pytest.CaptureFixture[str]
) -> None:
    # Act
    code = await run_cli("backtest", "show", "backtest_1_00")

    # Assert
    assert code == 1
    assert "NOT_FOUND" in capfd.readouterr().err


@pytest.mark.parametrize(
    ("outcome", "state", "exit_code"),
    [
        (BacktestOutcome(state=BacktestState.COMPLETED, result=BacktestResult()), "completed", 0),
        (BacktestOutcome(state=BacktestState.FAILED, error_message="no data"), "failed", 1),
        (BacktestOutcome(state=BacktestState.CANCELLED), "cancelled", 2),
    ],
)  # fmt: skip
async def test_watch_prints_each_state_and_exits_by_the_final_one(
    harness: Harness, capfd: pytest.CaptureFixture[str], outcome: BacktestOutcome, state: str, exit_code: int
) -> None:
    # Arrange
    await run_cli(*SUBMIT, "--patterns", "Bull_Flag")
    [submitted] = _lines(capfd)
    backtest_id = submitted["backtest_id"]
    printed = Printed(capfd)
    watching = asyncio.create_task(run_cli("backtest", "watch", backtest_id))
    await eventually(lambda: len(printed.lines()) == 1)

    # Act: progress, then the outcome, each once the previous state is printed
    harness.jobs.apply_progress(backtest_id, 0.5, "MSFT")
    await eventually(lambda: len(printed.lines()) == 2)
    harness.jobs.apply_outcome(backtest_id, outcome)
    code = await asyncio.wait_for(watching, 10)

    # Assert
    assert code == exit_code
    lines = printed.lines()
    assert [(line["state"], line["progress"]) for line in lines[:2]] == [("queued", 0.0), ("running", 0.5)]
    assert [line["state"] for line in lines[2:]] == [state]
    assert lines[2]["backtest_id"] == backtest_id
    assert (lines[2]["result"] is not None) is (state == "completed")


async def test_watch_of_a_backtest_that_ended_prints_it_once(
    harness: Harness, capfd: pytest.CaptureFixture[str]
) -> None:
    # Arrange
    await run_cli(*SUBMIT, "--patterns", "Bull_Flag")
    [submitted] = _lines(capfd)
    await run_cli("backtest", "cancel", submitted["backtest_id"])
    _lines(capfd)

    # Act
    code = await run_cli("backtest", "watch", submitted["backtest_id"])

    # Assert
    assert code == 2
    assert [line["state"] for line in _lines(capfd)] == ["cancelled"]


@pytest.mark.parametrize(
    "argv",
    [
        ["backtest", "submit", "AAPL", "--start", "2025-02-30", "--end", "2025-06-30", "--patterns", "Doji"],
        ["backtest", "submit", "AAPL", "--end", "2025-06-30", "--patterns", "Doji"],
        ["backtest", "submit", "--start", "2025-01-02", "--end", "2025-06-30", "--patterns", "Doji"],
        ["backtest", "watch"],
    ],
    ids=["no-such-day", "no-start", "no-symbols", "no-id"],
)
def test_bad_backtest_arguments_are_a_usage_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Act
    with pytest.raises(SystemExit) as exited:
        main(argv)

    # Assert
    assert exited.value.code == 2
    assert "usage: tickstock backtest" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["backtest"], ["submit", "show", "list", "cancel", "watch"]),
        (
            ["backtest", "submit"],
            ["--start", "--end", "--patterns", "--capital", "--commission", "--slippage", "--max-position",
             "--stop-loss", "--take-profit"],
        ),
        (["backtest", "list"], ["--limit"]),
        (
            ["backtest", "watch"],
            ["exit codes: 0 the backtest completed; 1 it failed", "2 it was cancelled", "130 interrupted"],
        ),
    ],
)  # fmt: skip
def test_help_names_the_backtest_actions_options_and_watch_exit_codes(
    argv: list[str], expected: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Act
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])

    # Assert
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert [word for word in expected if word not in text] == []
