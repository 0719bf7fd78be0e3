"""`tickstock stats` and `tickstock alerts` against the in-process PatternService (clock pinned)."""

from __future__ import annotations

import asyncio
import json

import pytest
from api_server import ServerFactory
from cli_runner import run_cli
from pattern_api import PatternApi, make_pattern, start_patterns
from polling import eventually

from tickstock_client.cli import main


@pytest.fixture
async def patterns(start_api_server: ServerFactory, monkeypatch: pytest.MonkeyPatch) -> PatternApi:
    patterns = await start_patterns(start_api_server)
    monkeypatch.setenv("TICKSTOCK_API_KEY", patterns.api.token)
    monkeypatch.setenv("TICKSTOCK_TARGET", f"127.0.0.1:{patterns.api.port}")
    return patterns


async def test_stats_prints_the_statistics_as_one_json_line(
    patterns: PatternApi, capfd: pytest.CaptureFixture[str]
) -> None:
    # Arrange
    patterns.put(make_pattern("s1", "AAPL", "Doji"), make_pattern("s2", "MSFT", "Hammer", age_s=2))

    # Act
    code = await run_cli("stats")

    # Assert
    assert code == 0
    [stats] = [json.loads(line) for line in capfd.readouterr().out.splitlines()]
    assert (stats["cached_patterns"], stats["patterns_by_type"]) == (2, {"Doji": 1, "Hammer": 1})
    assert (stats["last_event_time"], stats["producer_heartbeat_age"]) == ("2026-01-06T15:00:00Z", None)


async def test_alerts_create_list_and_delete(patterns: PatternApi, capfd: pytest.CaptureFixture[str]) -> None:
    # Act
    created_code = await run_cli(
        "alerts", "create", "--patterns", "Doji,Hammer", "--symbols", "msft", "--universes", "chips",
        "--min-confidence", "0.7", "--quiet-hours", "22:00-07:30", "--time-zone", "America/New_York",
        "--max-per-hour", "20",
    )  # fmt: skip
    [created] = [json.loads(line) for line in capfd.readouterr().out.splitlines()]
    listed_code = await run_cli("alerts", "list")
    listed = [json.loads(line) for line in capfd.readouterr().out.splitlines()]
    deleted_code = await run_cli("alerts", "delete", created["subscription_id"])
    await run_cli("alerts", "list")

    # Assert
    assert (created_code, listed_code, deleted_code) == (0, 0, 0)
    assert created["subscription_id"].startswith("alrt_")
    assert (created["pattern_types"], created["symbols"], created["universes"]) == (
        ["Doji", "Hammer"],
        ["MSFT"],
        ["chips"],
    )
    assert (created["quiet_hours"], created["time_zone"]) == (["22:00", "07:30"], "America/New_York")
    assert (created["min_confidence"], created["max_alerts_per_hour"]) == (0.7, 20)
    assert created["create_time"] == "2026-01-06T15:00:00Z"
    assert listed == [created]
    assert capfd.readouterr().out == ""  # deleted: the delete and the last list print nothing


async def test_deleting_an_unknown_subscription_exits_1(
    patterns: PatternApi, capfd: pytest.CaptureFixture[str]
) -> None:
    # Act
    code = await run_cli("alerts", "delete", "alrt_" + "A" * 16)

    # Assert
    assert code == 1
    assert "NOT_FOUND" in capfd.readouterr().err


async def test_a_refused_subscription_exits_1_with_its_violations(
    patterns: PatternApi, capfd: pytest.CaptureFixture[str]
) -> None:
    # Act
    code = await run_cli("alerts", "create", "--time-zone", "Mars/Olympus_Mons")

    # Assert
    assert code == 1
    assert "subscription.time_zone:" in capfd.readouterr().err


async def test_alerts_stream_prints_an_alert_for_a_pattern_put_into_the_cache(
    patterns: PatternApi, capfd: pytest.CaptureFixture[str]
) -> None:
    # Arrange
    await run_cli("alerts", "create", "--patterns", "Doji")
    [subscription] = [json.loads(line) for line in capfd.readouterr().out.splitlines()]
    streaming = asyncio.create_task(run_cli("alerts", "stream", "--limit", "1"))
    await eventually(lambda: patterns.api.patterns.router.open_streams("alice") == 1)

    # Act
    patterns.put(make_pattern("a1", "AAPL", "Hammer"), make_pattern("a2", "NVDA", "Doji"))
    code = await asyncio.wait_for(streaming, 10)

    # Assert
    assert code == 0
    [alert] = [json.loads(line) for line in capfd.readouterr().out.splitlines()]
    assert alert["subscription_id"] == subscription["subscription_id"]
    assert (alert["pattern"]["symbol"], alert["pattern"]["details"]["pattern_id"]) == ("NVDA", "a2")


@pytest.mark.parametrize(
    "window", ["22:00", "25:00-07:00", "22:00-7pm", "22:00:30-07:00", "22:00+01:00-07:00"]
)
def test_quiet_hours_that_are_no_window_are_a_usage_error(
    window: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Act
    with pytest.raises(SystemExit) as exited:
        main(["alerts", "create", "--quiet-hours", window])

    # Assert
    assert exited.value.code == 2
    assert "is no HH:MM-HH:MM window" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ["stats", "alerts", "backtest", "backtest watch: 0 completed, 1 failed, 2 cancelled"]),
        (["alerts"], ["list", "create", "delete", "stream"]),
        (
            ["alerts", "create"],
            ["--patterns", "--symbols", "--universes", "--min-confidence", "--quiet-hours", "--time-zone",
             "--max-per-hour"],
        ),
        (["alerts", "stream"], ["--limit"]),
    ],
)  # fmt: skip
def test_help_names_the_alert_commands_and_options(
    argv: list[str], expected: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Act
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])

    # Assert
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert [word for word in expected if word not in text] == []
