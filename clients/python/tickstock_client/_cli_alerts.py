"""The `tickstock stats` and `tickstock alerts` commands: pattern statistics and alert subscriptions."""

from __future__ import annotations

import argparse
import sys
from datetime import time
from typing import Any

from tickstock_client._cli_args import print_json_lines, split
from tickstock_client._client import AsyncClient
from tickstock_client._json import to_json
from tickstock_client._pattern_models import Alert

__all__ = ["add_alert_commands", "run_alert_command"]


def add_alert_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `stats` and `alerts` to the command parsers."""
    commands.add_parser("stats", help="pattern cache and producer statistics (JSON)")

    alerts = commands.add_parser("alerts", help="your pattern alert subscriptions, and your alerts")
    actions = alerts.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="every subscription, oldest first")
    create = actions.add_parser("create", help="a new subscription; empty lists select everything")
    create.add_argument("--patterns", default="", help="comma-separated pattern types, e.g. Bull_Flag,Doji")
    create.add_argument("--symbols", default="", help="comma-separated tickers")
    create.add_argument("--universes", default="", help="comma-separated universe names")
    create.add_argument("--min-confidence", type=float, default=0.0, help="0 to 1 (default 0)")
    create.add_argument(
        "--quiet-hours",
        type=_quiet_hours,
        metavar="HH:MM-HH:MM",
        help="a daily window without alerts, in --time-zone; 22:00-07:00 crosses midnight",
    )
    create.add_argument("--time-zone", default="UTC", help="IANA time zone of the quiet hours (default UTC)")
    create.add_argument(
        "--max-per-hour", type=int, help="most alerts per rolling hour, 1 to 1000 (default 50)"
    )
    delete = actions.add_parser("delete", help="delete a subscription")
    delete.add_argument("subscription_id")
    stream = actions.add_parser(
        "stream",
        help="your alerts as JSON lines, reconnecting (withheld counts go to stderr); alerts raised "
        "while it reconnects are not replayed",
    )
    stream.add_argument("--limit", type=int, default=0, help="stop after this many alerts (0: never)")


def _quiet_hours(text: str) -> tuple[time, time]:
    start, separator, end = text.partition("-")
    try:
        window = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except ValueError:
        window = None
    if not separator or window is None or any(t.second or t.microsecond or t.tzinfo for t in window):
        raise argparse.ArgumentTypeError(f"{text!r} is no HH:MM-HH:MM window, as in 22:00-07:00")
    return window


async def run_alert_command(client: AsyncClient, args: argparse.Namespace) -> int:
    """Run `stats` or `alerts ACTION`; the exit code."""
    result: Any
    if args.command == "stats":
        result = await client.get_pattern_stats()
    elif args.action == "list":
        result = await client.list_alert_subscriptions()
    elif args.action == "create":
        result = await client.create_alert_subscription(
            pattern_types=split(args.patterns),
            symbols=tuple(s.upper() for s in split(args.symbols)),
            universes=split(args.universes),
            min_confidence=args.min_confidence,
            quiet_hours=args.quiet_hours,
            time_zone=args.time_zone,
            max_alerts_per_hour=args.max_per_hour,
        )
    elif args.action == "delete":
        await client.delete_alert_subscription(args.subscription_id)
        result = None
    else:
        return await _stream(client, args.limit)
    print_json_lines(result)
    return 0


async def _stream(client: AsyncClient, limit: int) -> int:
    received = 0
    alerts = client.stream_alerts()
    try:
        async for item in alerts:
            if isinstance(item, Alert):
                print(to_json(item), flush=True)
                received += 1
            else:  # notices go to stderr, so stdout stays one alert per line
                print(to_json(item, notice=type(item).__name__), file=sys.stderr, flush=True)
            if limit and received >= limit:
                break
    finally:
        await alerts.aclose()
    return 0
