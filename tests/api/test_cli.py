"""The `tickstock` command line against the in-process server: JSON lines, resume files, exit codes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from api_server import ApiServer
from cli_runner import run_cli
from event_factories import make_event, make_trend_details

from tickstock_client.cli import main
from tickstock_server.domain.events import EventType, TrendStrength

FILTER_OPTIONS = [
    "--symbols", "--universes", "--watchlists", "--types", "--directions", "--min-significance",
    "--min-trend-strength", "--min-surge-strength", "--min-pattern-confidence", "--min-price", "--max-price",
    "--min-volume", "--max-volume",
]  # fmt: skip


async def wait_subscribed(api: ApiServer) -> None:
    async with asyncio.timeout(5):
        while len(api.hub) == 0:  # noqa: ASYNC110 - the hub has no event to wait on
            await asyncio.sleep(0.01)


async def test_stream_prints_one_json_event_per_line_and_keeps_its_position(
    api: ApiServer, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKSTOCK_API_KEY", api.token)
    resume = tmp_path / "aapl.token"
    target = f"127.0.0.1:{api.port}"
    first = asyncio.create_task(
        run_cli(
            "--target", target, "stream", "--symbols", "aapl", "--limit", "2", "--resume-file", str(resume)
        )
    )
    await wait_subscribed(api)
    api.publish(make_event("MSFT"), make_event("AAPL", price=1.5), make_event("AAPL", price=2.5))
    assert await asyncio.wait_for(first, 10) == 0
    api.publish(make_event("AAPL", price=3.5))

    second = await asyncio.wait_for(
        run_cli(
            "--target", target, "stream", "--symbols", "AAPL", "--limit", "1", "--resume-file", str(resume)
        ),
        10,
    )

    assert second == 0
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines()]
    assert [(e["symbol"], e["price"], e["type"]) for e in lines] == [
        ("AAPL", 1.5, "high"),
        ("AAPL", 2.5, "high"),
        ("AAPL", 3.5, "high"),
    ]
    assert all(isinstance(e["seq"], int) and e["epoch"] == "test-epoch" for e in lines)
    assert "event_time" in lines[0] and "eventTime" not in lines[0]
    assert resume.read_text() == f"test-epoch:{lines[-1]['seq']}\n"


async def test_without_a_key_it_says_how_to_get_one_and_exits_2(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TICKSTOCK_API_KEY", raising=False)
    monkeypatch.delenv("TICKSTOCK_API_KEY_FILE", raising=False)

    code = await run_cli("stream")

    assert code == 2
    assert "create-key" in capfd.readouterr().err


async def test_a_key_file_is_read_and_a_refusal_exits_1_with_its_violations(
    api: ApiServer, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(f"{api.token}\n")

    code = await run_cli(
        "--target", f"127.0.0.1:{api.port}", "--key-file", str(key_file), "stream", "--symbols", "A B"
    )

    assert code == 1
    err = capfd.readouterr().err
    assert "INVALID_ARGUMENT" in err
    assert "filter.symbols[0]:" in err


async def test_unknown_event_types_are_a_usage_error(
    capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("tsk_x")

    code = await run_cli("--key-file", str(key_file), "stream", "--types", "high,bogus")

    assert code == 2
    assert "unknown event types: bogus" in capfd.readouterr().err

    code = await run_cli("--key-file", str(key_file), "watch", "--directions", "sideways")

    assert code == 2
    assert "unknown directions: sideways (known: up, down)" in capfd.readouterr().err


async def test_stream_applies_the_strength_and_price_minimums(
    api: ApiServer, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKSTOCK_API_KEY", api.token)
    streaming = asyncio.create_task(
        run_cli(
            "--target", f"127.0.0.1:{api.port}", "stream", "--types", "trend",
            "--min-trend-strength", "strong", "--min-price", "10", "--limit", "1",
        )
    )  # fmt: skip
    await wait_subscribed(api)

    api.publish(
        make_event(
            "AAPL", price=50.0, type=EventType.TREND, details=make_trend_details(TrendStrength.MODERATE)
        ),
        make_event("MSFT", price=5.0, type=EventType.TREND, details=make_trend_details(TrendStrength.STRONG)),
        make_event(
            "NVDA", price=50.0, type=EventType.TREND, details=make_trend_details(TrendStrength.STRONG)
        ),
    )

    assert await asyncio.wait_for(streaming, 10) == 0
    assert [json.loads(line)["symbol"] for line in capfd.readouterr().out.splitlines()] == ["NVDA"]


async def test_a_preset_saved_from_the_command_line_is_listed_as_json(
    api: ApiServer, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKSTOCK_API_KEY", api.token)
    target = f"127.0.0.1:{api.port}"

    saved = await run_cli(
        "--target", target, "preset", "save", "chips", "--symbols", "nvda,amd", "--types", "trend,pattern",
        "--directions", "up", "--min-surge-strength", "moderate", "--min-pattern-confidence", "0.7",
    )  # fmt: skip
    listed = await run_cli("--target", target, "preset", "list")

    assert (saved, listed) == (0, 0)
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines()]
    assert lines[0] == lines[1]
    assert lines[1]["name"] == "chips"
    assert lines[1]["filter"]["symbols"] == ["NVDA", "AMD"]
    assert lines[1]["filter"]["event_types"] == ["trend", "pattern"]
    assert lines[1]["filter"]["directions"] == ["up"]
    assert lines[1]["filter"]["min_surge_strength"] == "moderate"
    assert lines[1]["filter"]["min_pattern_confidence"] == 0.7
    assert lines[1]["filter"]["min_trend_strength"] is None


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            [],
            [
                "stream",
                "watch",
                "bars",
                "symbols",
                "universes",
                "watchlist",
                "scan",
                "preset",
                "token",
                "health",
                "exit codes",
            ],
        ),
        (
            ["scan"],
            [
                "--symbols",
                "--universes",
                "--patterns",
                "--min-confidence",
                "--sort",
                "--ascending",
                "--limit",
            ],
        ),
        (["preset"], ["list", "save", "delete"]),
        (["stream"], [*FILTER_OPTIONS, "--preset", "--limit", "--resume-file"]),
        (
            ["watch"],
            [*FILTER_OPTIONS, "--preset", "--limit", "--resume-file", "--rows", "--json", "not a terminal"],
        ),
        (["preset", "save"], FILTER_OPTIONS),
        (["bars"], ["--interval", "--start", "--end", "--json", "--chart", "--no-chart", "not a terminal"]),
        (["watchlist"], ["list", "show", "create", "update", "delete"]),
        (["token"], ["--ttl"]),
    ],
)
def test_help_names_every_command_and_option(
    argv: list[str], expected: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])

    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert [word for word in expected if word not in text] == []
