"""Command line of the server: `serve` (the default), `supervise`, `create-key` and `revoke-key`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import textwrap
from collections.abc import Sequence

import uvloop
from pydantic import ValidationError

from tickstock_server import __version__
from tickstock_server.app.topology import SUPERVISE_HELP, supervise
from tickstock_server.config import Settings, describe_settings
from tickstock_server.errors import TickstockError
from tickstock_server.log import configure_logging
from tickstock_server.support.gc_tuning import SurvivorFreezer, freeze_startup_heap

_logger = logging.getLogger("tickstock_server")


def _settings_help() -> str:
    lines = ["settings (environment variables):"]
    for name, default, description in describe_settings():
        lines.append(f"  {name}  (default: {default})")
        lines.extend(
            textwrap.wrap(description, width=96, initial_indent="      ", subsequent_indent="      ")
        )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tickstock-server",
        description="TickStock: real-time market-data events over gRPC.",
        epilog=_settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve_parser = commands.add_parser("serve", help="run the server (the default)")
    serve_parser.add_argument(
        "--role",
        choices=["all", "ingest", "gateway"],
        help="what this process runs (overrides TICKSTOCK_ROLE): all (one process, the default), ingest "
        "(feed, detection, bars, the event stream's writer) or gateway (the gRPC services)",
    )
    serve_parser.add_argument(
        "--shard",
        metavar="K/N",
        help="with --role ingest: detect only the symbols of shard K of N (overrides TICKSTOCK_SHARD)",
    )
    commands.add_parser(
        "supervise",
        help="run it as an ingest process and several gateways on this host, restarting them",
        description=SUPERVISE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    create = commands.add_parser("create-key", help="create an API key and print it (shown only once)")
    create.add_argument("--user", required=True, help="user name the key belongs to")
    revoke = commands.add_parser("revoke-key", help="revoke an API key by its id (the part after 'tsk_')")
    revoke.add_argument("key_id", help="12 hex characters")
    return parser


async def _serve(settings: Settings) -> None:
    # Imported here: the supervisor process never loads the service (gRPC, asyncpg, detection).
    from tickstock_server.app.serve import serve

    stop = asyncio.Event()
    _install_signal_handlers(stop)
    await serve(settings, stop, on_ready=_settle_heap)


def _settle_heap(_port: int) -> None:
    # Everything built so far lives as long as the process: collections never rescan it again. From
    # now on, what each full collection leaves is frozen too (for the rest of the process's life).
    frozen = freeze_startup_heap()
    SurvivorFreezer().install()
    _logger.info("froze %d start-up objects out of garbage collection", frozen, extra={"gc_frozen": frozen})


async def _supervise(settings: Settings) -> None:
    stop = asyncio.Event()
    _install_signal_handlers(stop)
    await supervise(settings, stop)


def _install_signal_handlers(stop: asyncio.Event) -> None:
    """Set `stop` on SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def _create_key(settings: Settings, user: str) -> None:
    from tickstock_server.app.backends import open_database
    from tickstock_server.storage.api_keys import PgApiKeyStore

    async with open_database(settings) as pool:
        issued = await PgApiKeyStore(pool).create(user)
    # The token goes to stdout for the operator only; it is never logged.
    print(issued.token)


async def _revoke_key(settings: Settings, key_id: str) -> int:
    from tickstock_server.app.backends import open_database
    from tickstock_server.storage.api_keys import PgApiKeyStore

    async with open_database(settings) as pool:
        revoked = await PgApiKeyStore(pool).revoke(key_id)
    print("revoked" if revoked else "no such active key", file=sys.stderr)
    return 0 if revoked else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `tickstock-server`."""
    args = _parser().parse_args(argv)
    try:
        overrides = {name: getattr(args, name, None) for name in ("role", "shard")}
        settings = Settings(**{name: value for name, value in overrides.items() if value is not None})
    except ValidationError as exc:
        # Without the input values: a URL may carry a password.
        for error in exc.errors(include_input=False, include_url=False):
            location = "TICKSTOCK_" + "__".join(str(part).upper() for part in error["loc"])
            print(f"invalid setting {location}: {error['msg']}", file=sys.stderr)
        return 2
    command = args.command or "serve"
    if command == "supervise" and settings.grpc.port == 0:
        message = "supervise needs a fixed port, which every gateway shares, not 0"
        print(f"invalid setting TICKSTOCK_GRPC__PORT: {message}", file=sys.stderr)
        return 2
    # Administrative commands print their result; keep their log quiet unless something goes wrong.
    configure_logging(
        settings.log.level if command in ("serve", "supervise") else "WARNING",
        json_lines=settings.log.json_lines,
    )
    try:
        if command == "create-key":
            uvloop.run(_create_key(settings, args.user))
            return 0
        if command == "revoke-key":
            return uvloop.run(_revoke_key(settings, args.key_id))
        if command == "supervise":
            uvloop.run(_supervise(settings))
            return 0
        uvloop.run(_serve(settings))
        return 0
    except TickstockError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ExceptionGroup as group:
        # A fatal error of a long-lived task (say, the feed's rejected API key) arrives grouped by the
        # TaskGroup; domain errors get the same one-line message, anything else its traceback.
        errors, rest = group.split(TickstockError)
        if errors is None or rest is not None:
            raise
        for fatal in _leaves(errors):
            print(f"error: {fatal}", file=sys.stderr)
        return 1


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    return [
        leaf
        for exc in group.exceptions
        for leaf in (_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    ]


if __name__ == "__main__":
    raise SystemExit(main())
