"""PgBarWriter throughput and flush lag on a real PostgreSQL, optionally across an outage.

Usage: .venv/bin/python bench/writer.py [--symbols 4000] [--minutes 60] [--lag-minutes 10]
       [--minute-s 3.0] [--outage-s N] [--methods copy,unnest] [--database-url URL]

Without `--database-url` an embedded PostgreSQL runs in a temporary directory; with it (an admin URL
allowed to CREATE DATABASE) a scratch database is created and dropped. Three phases, each on an
empty ``ohlcv_1min`` and at the writer's default configuration:

- throughput: `--minutes` minutes of bars for `--symbols` symbols put as fast as the writer takes them
  (backpressure paces the producer), then ``close``; rows/s = rows / seconds from the first put to the
  last commit. Then the same bars again as revisions (every row an ON CONFLICT update). Once per
  `--methods` entry: COPY into a staging table (the writer's default), or one array per column into
  ``INSERT ... SELECT FROM unnest(...)`` (``copy=False``); the unnest figures are ``writer_unnest_*``.
- lag: `--lag-minutes` minutes in real-time shape, each compressed to `--minute-s` seconds: at each
  minute start a burst of one bar per symbol (put in chunks of 200 over about 0.5 s, as the aggregator
  emits them when each symbol's first tick of the next minute arrives), then revisions of 5% of them
  trickling in. Flush lag of a bar = time from its put to the commit of the flush that wrote it.
- outage (with `--outage-s N`, embedded PostgreSQL only): the lag phase's stream with PostgreSQL
  stopped for N seconds in the middle; reports bars lost (rows missing or not equal to the last
  revision put) and catch-up time (PostgreSQL restarted -> buffer empty).

Prints one `name: value unit` line per figure.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from tickstock_server.domain.bar import Bar
from tickstock_server.embedded import EmbeddedPostgres
from tickstock_server.storage.bar_writer import PgBarWriter
from tickstock_server.storage.database import create_pool
from tickstock_server.storage.migrate import apply_migrations

_NS_PER_MINUTE = 60_000_000_000
_START_NS = int(dt.datetime(2026, 1, 5, 14, 30, tzinfo=dt.UTC).timestamp()) * 1_000_000_000
_BURST_CHUNK = 200
_BURST_S = 0.5
_REVISION_SHARE = 0.05


def _bars(symbols: int, minute: int, revision: int = 0) -> list[Bar]:
    start_ns = _START_NS + minute * _NS_PER_MINUTE
    bars = []
    for index in range(symbols):
        base = 10.0 + (index % 500) + minute * 0.01
        bars.append(
            Bar(
                symbol=f"S{index:04d}",
                start_ns=start_ns,
                open=base,
                high=base + 0.5 + revision * 0.01,
                low=base - 0.5,
                close=base + 0.25 + revision * 0.01,
                volume=1_000 + index + revision * 10,
                ticks=10 + revision,
            )
        )
    return bars


def _print(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:.3f} {unit}" if isinstance(value, float) else f"{name}: {value} {unit}")


async def _throughput(pool: asyncpg.Pool, symbols: int, minutes: int, method: str) -> None:
    for phase in ("insert", "update"):
        writer = PgBarWriter(pool, copy=method == "copy")
        runner = asyncio.create_task(writer.run())
        revision = 0 if phase == "insert" else 1
        batches = [_bars(symbols, minute, revision) for minute in range(minutes)]
        started_s = time.perf_counter()
        for bars in batches:
            await writer.put(bars)
        await writer.close()
        await runner
        elapsed_s = time.perf_counter() - started_s
        stats = writer.stats()
        rows = symbols * minutes
        prefix = f"writer_{phase}" if method == "copy" else f"writer_{method}_{phase}"
        _print(f"{prefix}_rows", rows, "rows")
        _print(f"{prefix}_throughput", rows / elapsed_s, "rows/s")
        _print(f"{prefix}_flushes", stats.flushes, "flushes")
        _print(f"{prefix}_backpressure_waits", stats.backpressure_waits, "waits")


async def _stream(
    writer: PgBarWriter, symbols: int, minutes: int, minute_s: float, put_s: dict[int, float]
) -> dict[tuple[str, int], Bar]:
    """Put `minutes` bursts in real-time shape; return the last revision of every bar."""
    latest: dict[tuple[str, int], Bar] = {}
    loop = asyncio.get_running_loop()
    began_s = loop.time()

    async def put(bars: Sequence[Bar]) -> None:
        now_s = time.perf_counter()
        for bar in bars:
            put_s[id(bar)] = now_s
            latest[(bar.symbol, bar.start_ns)] = bar
        await writer.put(bars)

    for minute in range(minutes):
        minute_start_s = began_s + minute * minute_s
        await asyncio.sleep(max(0.0, minute_start_s - loop.time()))
        burst = _bars(symbols, minute)
        chunks = [burst[i : i + _BURST_CHUNK] for i in range(0, len(burst), _BURST_CHUNK)]
        for chunk in chunks:
            await put(chunk)
            await asyncio.sleep(_BURST_S / len(chunks))
        # Late ticks: revisions of 5% of the minute's bars, in 10 trickles over the rest of the minute.
        revised = _bars(symbols, minute, revision=1)[:: int(1 / _REVISION_SHARE)]
        trickle = max(1, len(revised) // 10)
        for i in range(0, len(revised), trickle):
            await asyncio.sleep((minute_s - _BURST_S) / 12)
            await put(revised[i : i + trickle])
    return latest


def _lag_figures(prefix: str, put_s: dict[int, float], written_s: dict[int, float]) -> None:
    lags = sorted(written_s[key] - put_s[key] for key in written_s)
    _print(f"{prefix}_bars_measured", len(lags), "bars")
    _print(f"{prefix}_p50", statistics.median(lags), "s")
    _print(f"{prefix}_p99", lags[min(len(lags) - 1, int(len(lags) * 0.99))], "s")
    _print(f"{prefix}_max", lags[-1], "s")


async def _lag(pool: asyncpg.Pool, symbols: int, minutes: int, minute_s: float) -> None:
    put_s: dict[int, float] = {}
    written_s: dict[int, float] = {}

    def on_written(bars: Sequence[Bar]) -> None:
        now_s = time.perf_counter()
        for bar in bars:
            written_s[id(bar)] = now_s

    writer = PgBarWriter(pool, on_written=on_written)
    runner = asyncio.create_task(writer.run())
    await _stream(writer, symbols, minutes, minute_s, put_s)
    await writer.close()
    await runner
    _lag_figures("writer_flush_lag", put_s, written_s)
    _print("writer_lag_flushes", writer.stats().flushes, "flushes")


async def _outage(
    server: EmbeddedPostgres, symbols: int, minutes: int, minute_s: float, outage_s: float
) -> None:
    pool = await create_pool(server.url, min_size=1, max_size=4)
    try:
        await pool.execute("TRUNCATE ohlcv_1min")
        put_s: dict[int, float] = {}
        restarted_s = float("inf")
        caught_up = asyncio.Event()

        def on_written(_bars: Sequence[Bar]) -> None:
            # Caught up once every bar put before the restart is durable.
            if restarted_s != float("inf") and all(
                put_s[id(bar)] >= restarted_s for bar in writer.pending_bars()
            ):
                caught_up.set()

        writer = PgBarWriter(pool, on_written=on_written)
        runner = asyncio.create_task(writer.run())
        stream = asyncio.create_task(_stream(writer, symbols, minutes, minute_s, put_s))
        await asyncio.sleep(minutes * minute_s / 3)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(outage_s)
        await asyncio.to_thread(server.start)
        restarted_s = time.perf_counter()
        await caught_up.wait()
        caught_up_s = time.perf_counter() - restarted_s
        latest = await stream
        await writer.close()
        await runner
        stats = writer.stats()
        rows = await pool.fetch("SELECT symbol, ts, open, high, low, close, volume FROM ohlcv_1min")
    finally:
        await pool.close()
    stored = {(row["symbol"], row["ts"]): tuple(row)[2:] for row in rows}
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    lost = 0
    for bar in latest.values():
        key = (bar.symbol, epoch + dt.timedelta(microseconds=bar.start_ns // 1_000))
        # PostgreSQL's float8 -> numeric cast keeps 15 significant digits.
        expected = tuple(Decimal(f"{value:.15g}") for value in (bar.open, bar.high, bar.low, bar.close))
        if stored.get(key) != (*expected, bar.volume):
            lost += 1
    _print("writer_outage_s", outage_s, "s")
    _print("writer_outage_bars_expected", len(latest), "bars")
    _print("writer_outage_rows_stored", len(rows), "rows")
    _print("writer_outage_bars_lost", lost, "bars")
    _print("writer_outage_catch_up", caught_up_s, "s")
    _print("writer_outage_failed_flushes", stats.failed_flushes, "flushes")
    _print("writer_outage_backpressure_waits", stats.backpressure_waits, "waits")
    _print("writer_outage_backpressure", stats.backpressure_s, "s")


async def _run(args: argparse.Namespace) -> None:
    if args.database_url:
        name = f"tickstock_bench_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(args.database_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = urlunsplit(urlsplit(args.database_url)._replace(path=f"/{name}"))
            await _phases(url, args)
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.close()
        return
    with tempfile.TemporaryDirectory(prefix="tickstock-bench-") as directory:
        server = EmbeddedPostgres(Path(directory) / "postgres")
        await asyncio.to_thread(server.start)
        try:
            await _phases(server.url, args)
            if args.outage_s:
                await _outage(server, args.symbols, args.lag_minutes, args.minute_s, args.outage_s)
        finally:
            await asyncio.to_thread(server.stop)


async def _phases(url: str, args: argparse.Namespace) -> None:
    pool = await create_pool(url, min_size=1, max_size=4)
    try:
        await apply_migrations(pool)
        _print("writer_symbols", args.symbols, "symbols")
        for method in args.methods.split(","):
            await _throughput(pool, args.symbols, args.minutes, method)
            await pool.execute("TRUNCATE ohlcv_1min")
        await _lag(pool, args.symbols, args.lag_minutes, args.minute_s)
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=4000)
    parser.add_argument("--minutes", type=int, default=60, help="minutes of bars in the throughput phase")
    parser.add_argument("--lag-minutes", type=int, default=10, help="minutes of bars in the lag phase")
    parser.add_argument("--minute-s", type=float, default=3.0, help="wall seconds per minute of bars")
    parser.add_argument("--outage-s", type=float, default=0.0, help="stop PostgreSQL this long mid-run")
    parser.add_argument(
        "--methods",
        default="copy",
        help="comma-separated throughput runs: copy (the writer's default), unnest (arrays, no COPY)",
    )
    parser.add_argument("--database-url", help="admin URL of a server to use instead of an embedded one")
    args = parser.parse_args()
    if args.outage_s and args.database_url:
        parser.error("--outage-s needs the embedded PostgreSQL (it stops and restarts it)")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The writer logs each failed flush; the pool's own reconnect tracebacks add nothing.
    logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)
    asyncio.run(_run(args))


if __name__ == "__main__":
    main()
