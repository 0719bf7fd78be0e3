"""The `tickstock` command line, built only on the client library.

The API key comes from TICKSTOCK_API_KEY, or from the file TICKSTOCK_API_KEY_FILE or --key-file names;
never from an argument, so it stays out of shell history and process lists.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from tickstock_client._cli_alerts import add_alert_commands, run_alert_command
from tickstock_client._cli_args import UsageError, print_json_lines, split
from tickstock_client._cli_backtests import add_backtest_commands, run_backtest_command
from tickstock_client._cli_bars import add_bars_command, run_bars_command
from tickstock_client._cli_events import add_filter_options, add_stream_options, event_filter, print_events
from tickstock_client._cli_tls import add_tls_options, credentials
from tickstock_client._cli_watch import add_watch_command, run_watch_command
from tickstock_client._client import DEFAULT_TARGET, AsyncClient, api_key_from_environment
from tickstock_client._errors import TickstockError
from tickstock_client._models import PatternFilter, PatternSort

_EPILOG = """\
exit codes: 0 done; 1 the server refused the call (or is not serving, for health); 2 bad usage or no
API key; 130 interrupted. backtest watch: 0 completed, 1 failed, 2 cancelled.

examples:
  export TICKSTOCK_API_KEY_FILE=~/.tickstock-key
  tickstock stream --symbols AAPL,MSFT --types high,low --resume-file aapl.token
  tickstock stream --types trend,pattern --min-trend-strength strong --min-pattern-confidence 0.8
  tickstock watch --universes dow30 --rows 15 --resume-file dow30.token
  tickstock bars AAPL --interval 5m
  tickstock bars AAPL --interval 1h --start 2026-11-30T14:30:00Z --chart
  tickstock scan --universes dow30 --min-confidence 0.8 --limit 10
  tickstock watchlist create chips NVDA AMD
  tickstock alerts create --patterns Bull_Flag --universes sp500 --quiet-hours 22:00-07:00 \\
      --time-zone America/New_York
  tickstock backtest submit AAPL MSFT --start 2025-01-02 --end 2025-06-30 --patterns Bull_Flag
  tickstock backtest watch backtest_1767700800_0123456789abcdef
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tickstock",
        description="Command line client of TickStock.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--target",
        default=os.environ.get("TICKSTOCK_TARGET", DEFAULT_TARGET),
        help=f"server address host:port (env TICKSTOCK_TARGET; default {DEFAULT_TARGET})",
    )
    parser.add_argument("--key-file", type=Path, help="file holding the API key (else the environment)")
    add_tls_options(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    stream = commands.add_parser("stream", help="live events as JSON lines, resumed across interruptions")
    add_stream_options(stream)
    add_watch_command(commands)
    add_bars_command(commands)

    symbols = commands.add_parser("symbols", help="symbols whose ticker or name matches QUERY")
    symbols.add_argument("query", nargs="?", default="")

    universes = commands.add_parser("universes", help="every universe, or one with its members")
    universes.add_argument("name", nargs="?", default="")

    watchlist = commands.add_parser("watchlist", help="your watchlists")
    actions = watchlist.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="every watchlist")
    show = actions.add_parser("show", help="one watchlist")
    show.add_argument("watchlist_id")
    create = actions.add_parser("create", help="a new watchlist")
    create.add_argument("name")
    create.add_argument("symbols", nargs="*")
    update = actions.add_parser("update", help="rename and/or replace the symbols")
    update.add_argument("watchlist_id")
    update.add_argument("--name")
    update.add_argument("--symbols", help="comma-separated: the new list")
    delete = actions.add_parser("delete", help="delete a watchlist")
    delete.add_argument("watchlist_id")

    scan = commands.add_parser("scan", help="cached patterns, best first (all pages)")
    scan.add_argument("--symbols", default="", help="comma-separated tickers")
    scan.add_argument("--universes", default="", help="comma-separated universe names")
    scan.add_argument("--patterns", default="", help="comma-separated pattern types, e.g. Bull_Flag,Doji")
    scan.add_argument("--min-confidence", type=float)
    scan.add_argument("--sort", choices=[s.value for s in PatternSort], default="confidence")
    scan.add_argument("--ascending", action="store_true", help="lowest first")
    scan.add_argument("--limit", type=int, default=0, help="stop after this many patterns (0: all)")

    preset = commands.add_parser("preset", help="your saved event filters")
    preset_actions = preset.add_subparsers(dest="action", required=True, metavar="ACTION")
    preset_actions.add_parser("list", help="every preset")
    save = preset_actions.add_parser("save", help="save the filter options as NAME")
    save.add_argument("name")
    add_filter_options(save)
    remove = preset_actions.add_parser("delete", help="delete a preset")
    remove.add_argument("name")

    token = commands.add_parser("token", help="a short-lived session token for this key (JSON)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (60 to 43200)")

    add_alert_commands(commands)
    add_backtest_commands(commands)

    health = commands.add_parser("health", help="the health of the server or of one service")
    health.add_argument("service", nargs="?", default="", help="e.g. tickstock.v1.EventService")
    _accept_json(commands)
    return parser


def _accept_json(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Give every command `--json`: JSON lines are the only output of those without another one."""
    for command in commands.choices.values():
        nested = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            _accept_json(nested[0])
        elif "--json" not in command._option_string_actions:
            command.add_argument(
                "--json", action="store_true", help="JSON lines (this command's only output)"
            )


def _api_key(key_file: Path | None) -> str:
    try:
        return key_file.read_text().strip() if key_file is not None else api_key_from_environment()
    except (OSError, ValueError) as exc:
        raise UsageError(f"{exc} (create a key with: tickstock-server create-key --user NAME)") from None


async def _watchlist(client: AsyncClient, args: argparse.Namespace) -> Any:
    if args.action == "list":
        return await client.list_watchlists()
    if args.action == "show":
        return await client.get_watchlist(args.watchlist_id)
    if args.action == "create":
        return await client.create_watchlist(args.name, [s.upper() for s in args.symbols])
    if args.action == "update":
        symbols = None if args.symbols is None else [s.upper() for s in split(args.symbols)]
        return await client.update_watchlist(args.watchlist_id, name=args.name, symbols=symbols)
    await client.delete_watchlist(args.watchlist_id)
    return None


async def _scan(client: AsyncClient, args: argparse.Namespace) -> list[Any]:
    pattern_filter = PatternFilter(
        symbols=tuple(s.upper() for s in split(args.symbols)),
        universes=split(args.universes),
        pattern_types=split(args.patterns),
        min_confidence=args.min_confidence,
    )
    found: list[Any] = []
    scan = client.scan_patterns(pattern_filter, sort_by=PatternSort(args.sort), descending=not args.ascending)
    async for pattern in scan:
        found.append(pattern)
        if args.limit and len(found) >= args.limit:
            break
    return found


async def _preset(client: AsyncClient, args: argparse.Namespace) -> Any:
    if args.action == "list":
        return await client.list_filter_presets()
    if args.action == "save":
        return await client.save_filter_preset(args.name, event_filter(args))
    await client.delete_filter_preset(args.name)
    return None


async def _run(args: argparse.Namespace) -> int:
    async with AsyncClient(
        args.target, api_key=_api_key(args.key_file), credentials=credentials(args)
    ) as client:
        result: Any
        if args.command == "stream":
            return await print_events(client, args)
        if args.command == "watch":
            return await run_watch_command(client, args)
        if args.command == "bars":
            return await run_bars_command(client, args)
        if args.command in ("stats", "alerts"):
            return await run_alert_command(client, args)
        if args.command == "backtest":
            return await run_backtest_command(client, args)
        if args.command == "health":
            status = await client.health(args.service)
            print(status)
            return 0 if status == "serving" else 1
        if args.command == "symbols":
            result = [symbol async for symbol in client.list_symbols(args.query)]
        elif args.command == "universes":
            result = await client.get_universe(args.name) if args.name else await client.list_universes()
        elif args.command == "watchlist":
            result = await _watchlist(client, args)
        elif args.command == "scan":
            result = await _scan(client, args)
        elif args.command == "preset":
            result = await _preset(client, args)
        else:
            result = await client.create_session_token(timedelta(seconds=args.ttl))
    print_json_lines(result)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `tickstock`; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except UsageError as exc:
        print(f"tickstock: {exc}", file=sys.stderr)
        return 2
    except TickstockError as exc:
        print(f"tickstock: {exc}", file=sys.stderr)
        for violation in exc.field_violations:
            print(f"  {violation.field}: {violation.description}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
