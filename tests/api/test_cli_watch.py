"""`tickstock watch` against the in-process server: the table off a terminal, the live table on one, JSON."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
from pathlib import Path

import pytest
from api_server import ApiServer
from cli_runner import run_cli
from event_factories import make_event, make_trend_details
from rich.console import Console

from tickstock_client import AsyncClient
from tickstock_client._cli_watch import run_watch_command
from tickstock_client.cli import _parser
from tickstock_server.domain.events import EventType


def publish_three(api: ApiServer) -> None:
    api.publish(
        make_event("AAPL", price=1.5),
        make_event("MSFT", price=2.5),
        make_event("AAPL", price=3.5, type=EventType.TREND, details=make_trend_details()),
    )


async def test_off_a_terminal_it_prints_the_table_with_every_gap_and_keeps_its_position(
    api: ApiServer, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: a token of an older epoch, so the server reports a gap and replays its whole log
    monkeypatch.setenv("TICKSTOCK_API_KEY", api.token)
    monkeypatch.setenv("COLUMNS", "140")
    publish_three(api)
    resume = tmp_path / "watch.token"
    resume.write_text("old-epoch:99\n")

    # Act
    code = await asyncio.wait_for(
        run_cli(
            "--target", f"127.0.0.1:{api.port}", "watch", "--symbols", "AAPL,MSFT", "--limit", "3",
            "--resume-file", str(resume),
        ),
        10,
    )  # fmt: skip

    # Assert
    assert code == 0
    out = capfd.readouterr().out
    gap = "gap: the server's event log started a new epoch; replaying the new one from its start"
    assert gap in out.splitlines()
    last_table = out.rsplit("symbols, most recently active first", 1)[1]
    lines = last_table.splitlines()
    rule = next(index for index, line in enumerate(lines) if line.strip().startswith("─"))
    header = lines[rule - 1].split()
    cells = [line.split() for line in itertools.takewhile(str.strip, lines[rule + 1 :])]
    assert header[-5:] == ["highs", "lows", "trends", "surges", "patterns"]
    assert cells == [  # the most recently active first
        ["AAPL", "trend", "up", "3.50", "500", "0.05", "15:00:00", "1", "0", "1", "0", "0"],
        ["MSFT", "high", "up", "2.50", "500", "42.00", "15:00:00", "1", "0", "0", "0", "0"],
    ]  # fmt: skip
    assert "2 of 2 symbols" in out
    assert "ended | resume test-epoch:3 | 3 events" in last_table
    assert "gaps 1 (0 missed, 1 new epoch)" in last_table
    assert f"last notice: {gap}" in last_table
    assert resume.read_text() == "test-epoch:3\n"


async def test_with_json_it_prints_what_stream_prints(
    api: ApiServer, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKSTOCK_API_KEY", api.token)
    publish_three(api)
    resume = tmp_path / "watch.token"
    resume.write_text("old-epoch:99\n")

    code = await asyncio.wait_for(
        run_cli(
            "--target", f"127.0.0.1:{api.port}", "watch", "--json", "--limit", "2",
            "--resume-file", str(resume),
        ),
        10,
    )  # fmt: skip

    assert code == 0
    captured = capfd.readouterr()
    assert [(e["symbol"], e["price"]) for e in map(json.loads, captured.out.splitlines())] == [
        ("AAPL", 1.5),
        ("MSFT", 2.5),
    ]
    assert json.loads(captured.err.splitlines()[0])["notice"] == "Gap"


async def test_on_a_terminal_the_live_table_ends_with_the_newest_rows_and_the_status(
    api: ApiServer, tmp_path: Path
) -> None:
    publish_three(api)
    resume = tmp_path / "watch.token"
    resume.write_text("test-epoch:0\n")  # from the start of the log
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=140, color_system=None)
    args = _parser().parse_args(["watch", "--limit", "3", "--rows", "1", "--resume-file", str(resume)])

    async with AsyncClient(f"127.0.0.1:{api.port}", api_key=api.token) as client:
        code = await asyncio.wait_for(run_watch_command(client, args, console), 10)

    assert code == 0
    final = screen.getvalue().rsplit("1 of 2 symbols", 1)[1]  # --rows 1: the most recently active only
    assert "AAPL" in final and "MSFT" not in final
    assert "ended | resume test-epoch:3 | 3 events" in final
    assert "gaps 0 (0 missed)" in final
