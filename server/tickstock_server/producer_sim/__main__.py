"""Producer simulator CLI: ``python -m tickstock_server.producer_sim`` (``tickstock-pl-sim``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tickstock_server.domain.symbols import is_symbol
from tickstock_server.producer_sim.simulator import DEFAULT_SYMBOLS, SimulatorConfig, run_simulator
from tickstock_server.simulation.market import synthetic_symbols

_logger = logging.getLogger("tickstock_server.producer_sim")

_MAX_SYMBOLS = 20_000

_EPILOG = """\
examples:
  tickstock-pl-sim --redis-url redis://127.0.0.1:6379/0
  tickstock-pl-sim --redis-url unix:///var/run/redis.sock --patterns-per-s 50 --symbols AAPL,MSFT,NVDA
  tickstock-pl-sim --redis-url redis://127.0.0.1:6379/0 --symbols 1000 --seed 7 --duration-s 60

Publishes pattern envelopes on tickstock.events.patterns, sets tickstock:producer:heartbeat, publishes
system_health on tickstock.health.status every 30 s, and answers backtest jobs from tickstock.jobs.backtest
(cancelled by tickstock.jobs.cancel). Runs until interrupted or --duration-s has passed.
"""


def _symbols(text: str) -> tuple[str, ...]:
    if text.isdigit():
        count = int(text)
        if not 1 <= count <= _MAX_SYMBOLS:
            raise argparse.ArgumentTypeError(f"symbol count must be 1 to {_MAX_SYMBOLS}")
        return synthetic_symbols(count)
    symbols = tuple(dict.fromkeys(s.strip().upper() for s in text.split(",") if s.strip()))
    bad = [s for s in symbols if not is_symbol(s)]
    if bad or not symbols:
        raise argparse.ArgumentTypeError(f"not a symbol list: {text!r}")
    return symbols


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"not a non-negative number: {text!r}")
    return value


def _positive(text: str) -> float:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"not a positive number: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    defaults = SimulatorConfig()
    parser = argparse.ArgumentParser(
        prog="tickstock-pl-sim",
        description="Publish realistic TickStockPL traffic (patterns, heartbeats, backtests) to Redis.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--redis-url", required=True, help="redis://, rediss:// or unix:// URL")
    parser.add_argument(
        "--patterns-per-s",
        type=_non_negative,
        default=defaults.patterns_per_s,
        help="patterns per second after the initial burst (default: %(default)s)",
    )
    parser.add_argument(
        "--symbols",
        type=_symbols,
        default=DEFAULT_SYMBOLS,
        help="a count N (the first N synthetic symbols) or a comma-separated list "
        f"(default: {len(DEFAULT_SYMBOLS)})",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--heartbeat-s",
        type=_positive,
        default=defaults.heartbeat_s,
        help="seconds between heartbeat writes (default: %(default)s)",
    )
    parser.add_argument("--duration-s", type=_positive, default=None, help="stop after this many seconds")
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default="INFO",
        help="log level (default: %(default)s)",
    )
    return parser


async def run_cli(argv: Sequence[str]) -> int:
    """Run the simulator with command-line arguments `argv`; return the exit status.

    Logging is not configured here (`main` does it), so tests can capture the records.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    config = SimulatorConfig(
        patterns_per_s=args.patterns_per_s, symbols=args.symbols, seed=args.seed, heartbeat_s=args.heartbeat_s
    )
    try:
        client = aioredis.from_url(args.redis_url)
    except ValueError as exc:
        parser.error(f"--redis-url: {exc}")
    try:
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            _logger.error("cannot reach Redis: %s", exc)
            return 2
        try:
            async with asyncio.timeout(args.duration_s):
                await run_simulator(client, config)
        except TimeoutError:
            _logger.info("stopped after %.0f s", args.duration_s)
        return 0
    finally:
        await client.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tickstock-pl-sim``: plain-text logs on stderr."""
    args = sys.argv[1:] if argv is None else argv
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(build_parser().parse_args(args).log_level)
    try:
        return asyncio.run(run_cli(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
