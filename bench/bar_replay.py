"""Bars feed throughput: stored one-minute bars read from PostgreSQL and turned into ticks, per second.

Usage: .venv/bin/python bench/bar_replay.py [--symbols 500] [--days 3] [--chosen 30] [--window-minutes 15]

An embedded PostgreSQL runs in a temporary directory. ``ohlcv_1min`` gets `--days` trading days of 390
regular-session minutes for `--symbols` symbols (loaded outside the timed sections). Then the middle day
is replayed as fast as possible by `BarReplayTickSource` (one query per `--window-minutes` minutes, bars
ordered by minute and symbol, four ticks per bar, one batch per event time):

- bar_replay_all: every stored symbol (no symbol filter);
- bar_replay_chosen: `--chosen` symbols (the filter ``symbol = ANY(...)``).

Rate = bars (and ticks) / seconds from the start of the iteration to its end, detectors not included.
Prints one `name: value unit` line per figure.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import asyncpg

from tickstock_server.embedded import EmbeddedPostgres
from tickstock_server.feeds.bar_replay import BarReplayTickSource
from tickstock_server.storage.database import create_pool
from tickstock_server.storage.migrate import apply_migrations
from tickstock_server.storage.minute_history import PgMinuteBarHistory

_FIRST_OPEN = dt.datetime(2025, 1, 6, 14, 30, tzinfo=dt.UTC)  # Monday 09:30 ET
_NS_PER_S = 1_000_000_000


def _print(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:.6g} {unit}", flush=True)


async def _load(pool: asyncpg.Pool, symbols: int, days: int) -> None:
    for day in range(days):
        opened = _FIRST_OPEN + dt.timedelta(days=day)
        names, starts, prices, volumes = [], [], [], []
        for index in range(symbols):
            for minute in range(390):
                names.append(f"S{index:05d}")
                starts.append(opened + dt.timedelta(minutes=minute))
                prices.append(10.0 + index % 500 + (minute % 17) * 0.01)
                volumes.append(1_000 + minute)
        await pool.execute(
            "INSERT INTO ohlcv_1min (symbol, ts, open, high, low, close, volume)"
            " SELECT s, t, p, p + 0.05, p - 0.05, p + 0.01, v"
            " FROM unnest($1::text[], $2::timestamptz[], $3::float8[], $4::int8[]) AS u (s, t, p, v)",
            names, starts, prices, volumes,
        )  # fmt: skip
    await pool.execute("ANALYZE ohlcv_1min")


async def _replay(
    pool: asyncpg.Pool, name: str, symbols: Sequence[str] | None, day: int, window_minutes: int
) -> None:
    async def chosen() -> Sequence[str] | None:
        return symbols

    opened = _FIRST_OPEN + dt.timedelta(days=day)
    start_ns = int(opened.timestamp()) * _NS_PER_S
    source = BarReplayTickSource(
        PgMinuteBarHistory(pool), symbols=chosen, start_ns=start_ns,
        end_ns=start_ns + 390 * 60 * _NS_PER_S, window_minutes=window_minutes,
    )  # fmt: skip
    ticks = 0
    started_s = time.perf_counter()
    async for batch in source.ticks():
        ticks += len(batch)
    elapsed_s = time.perf_counter() - started_s
    _print(f"{name}_bars", source.bars_read, "bars")
    _print(f"{name}_bars_per_s", source.bars_read / elapsed_s, "bars/s")
    _print(f"{name}_ticks_per_s", ticks / elapsed_s, "ticks/s")


async def _run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="tickstock-bench-") as directory:
        server = EmbeddedPostgres(Path(directory) / "postgres")
        await asyncio.to_thread(server.start)
        try:
            pool = await create_pool(server.url, min_size=1, max_size=2)
            try:
                await apply_migrations(pool)
                await _load(pool, args.symbols, args.days)
                _print("bar_replay_stored_rows", args.symbols * 390 * args.days, "rows")
                middle = args.days // 2
                await _replay(pool, "bar_replay_all", None, middle, args.window_minutes)
                chosen = [
                    f"S{index:05d}" for index in range(0, args.symbols, max(1, args.symbols // args.chosen))
                ]
                await _replay(pool, "bar_replay_chosen", chosen[: args.chosen], middle, args.window_minutes)
            finally:
                await pool.close()
        finally:
            await asyncio.to_thread(server.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument(
        "--days", type=int, default=3, help="trading days stored (the middle one is replayed)"
    )
    parser.add_argument("--chosen", type=int, default=30, help="symbols of the filtered replay")
    parser.add_argument("--window-minutes", type=int, default=15)
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
