"""`tickstock bars` against the in-process server: JSON lines off a terminal, the table and the chart."""

from __future__ import annotations

import io
import json

import pytest
from api_server import ApiServer, ServerFactory
from cli_runner import run_cli
from factories import NS_PER_S, ns_at
from rich.console import Console

from tickstock_client import AsyncClient
from tickstock_client._cli_bars import run_bars_command
from tickstock_client.cli import _parser, main
from tickstock_server.adapters.memory.bars import MemoryBarReader
from tickstock_server.api.market_data_service import MarketDataServiceServicer
from tickstock_server.domain.bar import Bar

T0 = ns_at("2026-01-06T15:00:00")
MINUTE_NS = 60 * NS_PER_S
RANGE = ["--start", "2026-01-06T15:00:00Z", "--end", "2026-01-06T16:00:00Z"]
CLOSES = [100.0, 101.5, 103.0, 102.0, 104.5, 103.5, 101.0, 99.5, 100.5, 102.5]


def _minute(offset: int, close: float) -> Bar:
    open = CLOSES[offset - 1] if offset else close
    return Bar(
        symbol="AAPL", start_ns=T0 + offset * MINUTE_NS, open=open, high=max(open, close) + 0.5,
        low=min(open, close) - 0.5, close=close, volume=100 + offset, ticks=1,
    )  # fmt: skip


@pytest.fixture
async def api(start_api_server: ServerFactory, monkeypatch: pytest.MonkeyPatch) -> ApiServer:
    reader = MemoryBarReader([_minute(offset, close) for offset, close in enumerate(CLOSES)])
    servicer = MarketDataServiceServicer(bars=reader, market_clock_ns=lambda: T0 + 86_400 * NS_PER_S)
    server: ApiServer = await start_api_server(extra_servicers={"tickstock.v1.MarketDataService": servicer})
    monkeypatch.setenv("TICKSTOCK_API_KEY", server.token)
    return server


async def test_off_a_terminal_bars_are_json_lines_as_before(
    api: ApiServer, capfd: pytest.CaptureFixture[str]
) -> None:
    code = await run_cli("--target", f"127.0.0.1:{api.port}", "bars", "aapl", *RANGE)

    assert code == 0
    bars = [json.loads(line) for line in capfd.readouterr().out.splitlines()]
    assert [bar["close"] for bar in bars] == CLOSES
    assert bars[0]["start_time"] == "2026-01-06T15:00:00Z"


async def test_chart_draws_the_candles_within_the_terminal_width(
    api: ApiServer, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "40")

    code = await run_cli("--target", f"127.0.0.1:{api.port}", "bars", "AAPL", *RANGE, "--chart")

    assert code == 0
    lines = capfd.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 40
    assert lines[0].startswith("105.00 ┤") and lines[11].startswith(" 99.00 ┤")  # 12 rows, no table
    assert all(line.startswith("       │") for line in lines[1:11])
    caption = " ".join(line.strip() for line in lines[12:])  # wrapped at 40 columns
    assert caption == "10 bars, 1 per candle, 2026-01-06 15:00 to 15:09 UTC"


async def test_no_chart_prints_the_table_only(api: ApiServer, capfd: pytest.CaptureFixture[str]) -> None:
    code = await run_cli("--target", f"127.0.0.1:{api.port}", "bars", "AAPL", *RANGE, "--no-chart")

    assert code == 0
    out = capfd.readouterr().out
    assert out.splitlines()[0].rstrip() == "AAPL 1m, 10 bars"
    rows = [line.split() for line in out.splitlines() if line.startswith(" 2026-01-06 ")]
    assert len(rows) == 10
    assert rows[-1] == ["2026-01-06", "15:09", "100.50", "103.00", "100.00", "102.50", "109"]
    assert "┤" not in out


async def test_on_a_terminal_the_table_comes_first_then_the_chart_at_the_console_width(
    api: ApiServer,
) -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=60, record=True, color_system=None)
    args = _parser().parse_args(["bars", "AAPL", *RANGE])

    async with AsyncClient(f"127.0.0.1:{api.port}", api_key=api.token) as client:
        code = await run_bars_command(client, args, console)

    assert code == 0
    text = console.export_text()
    table, chart = text.split("105.00 ┤")
    assert table.count("2026-01-06 15:") == 10
    assert [line[7] for line in chart.splitlines()[1:12]] == ["│"] * 10 + ["┤"]  # 11 more rows of 12
    assert max(len(line) for line in text.splitlines()) <= 60


def test_json_and_chart_together_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["bars", "AAPL", "--json", "--chart"])

    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
