"""`tickstock bars`: one symbol's bars as a table and a candlestick chart, or as JSON lines."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime

from rich import box
from rich.console import Console
from rich.table import Table

from tickstock_client._bar_chart import BarChart
from tickstock_client._cli_args import print_json_lines
from tickstock_client._client import AsyncClient
from tickstock_client._models import Bar, BarInterval

__all__ = ["add_bars_command", "print_bars", "run_bars_command"]

_INTERVALS = {i.value: i for i in BarInterval}
_CHART_ROWS = 12
_DESCRIPTION = """\
Print the bars of SYMBOL in [--start, --end), oldest first.

On a terminal: a table, then a candlestick chart as wide as the terminal (neighbouring bars share a
candle when there are more bars than columns). When stdout is not a terminal: JSON lines, one bar
each, as every other command prints. --json, --chart and --no-chart choose explicitly.
"""


def _datetime(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, as in 2026-12-03T14:30:00Z")
    return moment


def add_bars_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `bars` to the command parsers."""
    bars = commands.add_parser(
        "bars",
        help="bars of one symbol, oldest first: a table and a chart on a terminal, else JSON lines",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bars.add_argument("symbol")
    bars.add_argument("--interval", choices=list(_INTERVALS), default="1m")
    bars.add_argument("--start", type=_datetime, help="RFC 3339 start time (default: one page back)")
    bars.add_argument("--end", type=_datetime, help="RFC 3339 end time (default: the newest bar)")
    output = bars.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="JSON lines, also on a terminal")
    output.add_argument(
        "--chart", action="store_true", help="the chart without the table, also when not on a terminal"
    )
    output.add_argument(
        "--no-chart", action="store_true", help="the table without the chart, also when not on a terminal"
    )


def _table(bars: Sequence[Bar], title: str) -> Table:
    table = Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
    )
    table.add_column("start UTC", no_wrap=True)
    for header in ("open", "high", "low", "close", "volume"):
        table.add_column(header, justify="right", no_wrap=True)
    for bar in bars:
        table.add_row(
            f"{bar.start_time:%Y-%m-%d %H:%M}",
            *(f"{price:,.2f}" for price in (bar.open, bar.high, bar.low, bar.close)),
            f"{bar.volume:,}",
        )
    return table


def print_bars(
    bars: Sequence[Bar], title: str, console: Console, *, json: bool, chart: bool, no_chart: bool
) -> None:
    """Show `bars` as the options say: JSON lines, the table, the chart, or (by default) as fits stdout."""
    if json or not (chart or no_chart or console.is_terminal):
        print_json_lines(list(bars))
        return
    if not chart:
        console.print(_table(bars, title))
    if not no_chart:
        console.print(BarChart(bars, rows=_CHART_ROWS))


async def run_bars_command(
    client: AsyncClient, args: argparse.Namespace, console: Console | None = None
) -> int:
    """Run `bars`; the exit code."""
    symbol = args.symbol.upper()
    bars = await client.get_bars(symbol, _INTERVALS[args.interval], start=args.start, end=args.end)
    title = f"{symbol} {args.interval}, {len(bars)} bars"
    print_bars(bars, title, console or Console(), json=args.json, chart=args.chart, no_chart=args.no_chart)
    return 0
