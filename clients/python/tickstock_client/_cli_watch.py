"""`tickstock watch`: the resumable event stream as a live table, one row per symbol."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Callable

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from tickstock_client._cli_events import ResumeFile, add_stream_options, open_stream, print_events
from tickstock_client._client import AsyncClient
from tickstock_client._models import Direction, Event, EventType
from tickstock_client._streaming import EventStream
from tickstock_client._watch_board import WatchBoard, WatchRow, WatchStatus

__all__ = ["add_watch_command", "run_watch_command", "watch_view"]

_DESCRIPTION = """\
Follow the same resumable event stream as `tickstock stream` (same filter options, --resume-file) and
show it as a table: one row per symbol with its last event (type, direction, price, volume, score,
time in UTC) and how many highs, lows, trends, surges and patterns it had, under a status line with
the connection state, the resume token and every gap, drop and replay notice (each notice is also
printed above the table as it arrives).

On a terminal the table is redrawn 4 times a second. When stdout is not a terminal, the table is
printed as plain text once a second when something changed, and once more at the end; --json prints
JSON lines exactly as `tickstock stream` does instead.
"""
_EPILOG = """\
examples:
  tickstock watch --universes dow30 --rows 15
  tickstock watch --types trend,surge --min-surge-strength strong --resume-file watch.token
  tickstock watch --symbols AAPL --limit 100 > aapl.txt
"""
_REDRAW_EVERY_S = 0.25
_PRINT_EVERY_S = 1.0
_TYPE_STYLES = {
    EventType.HIGH: "green",
    EventType.LOW: "red",
    EventType.TREND: "cyan",
    EventType.SURGE: "magenta",
    EventType.PATTERN: "yellow",
}
_DIRECTION_STYLES = {Direction.UP: "green", Direction.DOWN: "red"}


def _row_count(text: str) -> int:
    try:
        rows = int(text)
    except ValueError:
        rows = 0
    if rows < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is no positive number of rows")
    return rows


def add_watch_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `watch` to the command parsers."""
    watch = commands.add_parser(
        "watch",
        help="a live table of the event stream, one row per symbol (JSON lines with --json)",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_stream_options(watch)
    watch.add_argument(
        "--rows",
        type=_row_count,
        default=30,
        metavar="N",
        help="show only the N most recently active symbols (default 30): the table never grows beyond N "
        "rows, however many symbols the stream carries",
    )
    watch.add_argument(
        "--json", action="store_true", help="JSON lines as `tickstock stream` prints them, no table"
    )


def _table(rows: list[WatchRow], status: WatchStatus) -> Table:
    # No column rules: 12 columns fit 100 characters.
    table = Table(
        title=f"{len(rows)} of {status.symbols} symbols, most recently active first",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for header in ("symbol", "last", "dir", "price", "volume", "score", "time UTC"):
        table.add_column(
            header, no_wrap=True, justify="left" if header in ("symbol", "last", "dir") else "right"
        )
    for header in ("highs", "lows", "trends", "surges", "patterns"):
        table.add_column(header, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(
            Text(row.symbol, style="bold"),
            Text(row.type.value, style=_TYPE_STYLES.get(row.type, "")),
            Text(
                row.direction.value if row.direction is not Direction.UNKNOWN else "-",
                style=_DIRECTION_STYLES.get(row.direction, ""),
            ),
            f"{row.price:,.2f}",
            f"{row.volume:,}",
            "-" if row.score is None else f"{row.score:.2f}",
            f"{row.event_time:%H:%M:%S}",
            *(str(count) for count in (row.highs, row.lows, row.trends, row.surges, row.patterns)),
        )
    return table


def _status_line(status: WatchStatus) -> Text:
    line = Text()
    line.append(status.connection, style="bold green" if status.connection == "live" else "bold yellow")
    line.append(f" | resume {status.resume_token or '-'} | {status.events:,} events | ")
    line.append(f"reconnects {status.reconnects}\n")
    epochs = f", {status.epoch_changes} new epoch" if status.epoch_changes else ""
    line.append(
        f"gaps {status.gaps} ({status.missed_events:,} missed{epochs})",
        style="bold red" if status.gaps else "",
    )
    line.append(" | ")
    line.append(
        f"drops {status.drops} ({status.dropped_events:,} events)", style="bold red" if status.drops else ""
    )
    line.append(f" | replayed {status.replayed_events:,}")
    if status.last_notice:
        line.append(f"\nlast notice: {status.last_notice}", style="yellow")
    return line


def watch_view(rows: list[WatchRow], status: WatchStatus) -> Group:
    """The table of `rows` above the status line."""
    return Group(_table(rows, status), _status_line(status))


async def _every(interval_s: float, draw: Callable[[], None]) -> None:
    while True:
        await asyncio.sleep(interval_s)
        draw()


async def _consume(
    stream: EventStream, board: WatchBoard, console: Console, resume: ResumeFile, limit: int
) -> None:
    received = 0
    async for item in stream:
        notice = board.add(item)
        if notice is not None:  # never silent: a line of its own (above the live table), and counted
            console.print(Text(notice, style="bold yellow"))
        resume.keep(stream.resume_token)
        if isinstance(item, Event):
            received += 1
            if limit and received >= limit:
                return


async def run_watch_command(
    client: AsyncClient, args: argparse.Namespace, console: Console | None = None
) -> int:
    """Run `watch` on `console` (stdout's when None); the exit code."""
    if args.json:
        return await print_events(client, args)
    console = console or Console()
    board = WatchBoard()
    resume = ResumeFile(args.resume_file)
    stream = open_stream(client, args, resume)
    printed: tuple[int, WatchStatus] | None = None
    ended = False

    def status() -> WatchStatus:
        return board.status(
            connected=stream.connected,
            reconnects=stream.reconnects,
            resume_token=stream.resume_token,
            ended=ended,
        )

    def view() -> Group:
        return watch_view(board.rows(args.rows), status())

    def print_if_changed() -> None:
        nonlocal printed
        state = (board.version, status())
        if state != printed:
            console.print(view())
            printed = state

    screen: contextlib.AbstractContextManager[object]
    if console.is_terminal:
        live = Live(view(), console=console, auto_refresh=False)
        screen, interval_s = live, _REDRAW_EVERY_S

        def draw() -> None:
            live.update(view(), refresh=True)

    else:
        screen, interval_s, draw = contextlib.nullcontext(), _PRINT_EVERY_S, print_if_changed
    try:
        with screen:
            painter = asyncio.create_task(_every(interval_s, draw))
            try:
                await _consume(stream, board, console, resume, args.limit)
            finally:
                painter.cancel()
                await asyncio.wait([painter])
                ended = True
                draw()
    finally:
        stream.close()
        resume.save(stream.resume_token)
    return 0
