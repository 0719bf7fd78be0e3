"""The `tickstock backtest` commands: submit, show, list, cancel and watch pattern backtests."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from tickstock_client._backtest_models import BacktestParameters, BacktestState
from tickstock_client._cli_args import print_json_lines, split
from tickstock_client._client import AsyncClient
from tickstock_client._json import to_json

__all__ = ["WATCH_EXIT_CODES", "add_backtest_commands", "run_backtest_command"]

WATCH_EXIT_CODES = {BacktestState.COMPLETED: 0, BacktestState.FAILED: 1, BacktestState.CANCELLED: 2}
"""How `backtest watch` exits, by the backtest's final state."""
_WATCH_EPILOG = """\
exit codes: 0 the backtest completed; 1 it failed (or the server refused the call, e.g. an unknown
id); 2 it was cancelled (or bad usage); 130 interrupted.
"""
# Option name -> BacktestParameters field.
_PARAMETERS = {
    "capital": "initial_capital",
    "commission": "commission_rate",
    "slippage": "slippage_rate",
    "max_position": "max_position_size",
    "stop_loss": "stop_loss_pct",
    "take_profit": "take_profit_pct",
}


def add_backtest_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `backtest` and its actions to the command parsers."""
    backtest = commands.add_parser("backtest", help="your pattern backtests, run by the pattern producer")
    actions = backtest.add_subparsers(dest="action", required=True, metavar="ACTION")
    submit = actions.add_parser("submit", help="queue a backtest (JSON of the backtest)")
    submit.add_argument("symbols", nargs="+", metavar="SYMBOL", help="1 to 50 tickers")
    submit.add_argument("--start", type=_date, required=True, help="first day, YYYY-MM-DD")
    submit.add_argument("--end", type=_date, required=True, help="last day (inclusive), YYYY-MM-DD")
    submit.add_argument("--patterns", required=True, help="comma-separated pattern types, e.g. Bull_Flag")
    defaults = BacktestParameters()
    for option, field in _PARAMETERS.items():
        submit.add_argument(
            f"--{option.replace('_', '-')}",
            type=float,
            help=f"{field} (default {getattr(defaults, field)})",
        )
    show = actions.add_parser("show", help="one backtest with its progress or results")
    show.add_argument("backtest_id")
    listing = actions.add_parser("list", help="your backtests, newest first (all pages)")
    listing.add_argument("--limit", type=int, default=0, help="stop after this many backtests (0: all)")
    cancel = actions.add_parser("cancel", help="cancel a queued or running backtest")
    cancel.add_argument("backtest_id")
    watch = actions.add_parser(
        "watch",
        help="each state as a JSON line until the backtest ends; exit 0 completed, 1 failed, 2 cancelled",
        description="Print the backtest's state, then each change, as JSON lines until it ends, "
        "reconnecting after interruptions.",
        epilog=_WATCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    watch.add_argument("backtest_id")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is no day, as in 2025-01-02") from None


async def run_backtest_command(client: AsyncClient, args: argparse.Namespace) -> int:
    """Run `backtest ACTION`; the exit code (for `watch`, by the final state)."""
    result: Any
    if args.action == "submit":
        given = {field: getattr(args, option) for option, field in _PARAMETERS.items()}
        parameters = {field: value for field, value in given.items() if value is not None}
        result = await client.submit_backtest(
            [s.upper() for s in args.symbols],
            args.start,
            args.end,
            split(args.patterns),
            BacktestParameters(**parameters) if parameters else None,
        )
    elif args.action == "show":
        result = await client.get_backtest(args.backtest_id)
    elif args.action == "list":
        result = []
        async for backtest in client.list_backtests():
            result.append(backtest)
            if args.limit and len(result) >= args.limit:
                break
    elif args.action == "cancel":
        result = await client.cancel_backtest(args.backtest_id)
    else:
        return await _watch(client, args.backtest_id)
    print_json_lines(result)
    return 0


async def _watch(client: AsyncClient, backtest_id: str) -> int:
    final = BacktestState.UNKNOWN
    states = client.watch_backtest(backtest_id)
    try:
        async for backtest in states:
            print(to_json(backtest), flush=True)
            final = backtest.state
    finally:
        await states.aclose()
    # The watch ends only after a final state; anything else would be a fault, as a failure is.
    return WATCH_EXIT_CODES.get(final, 1)
