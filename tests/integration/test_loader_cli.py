"""`tickstock-load` for people: bounded concurrency, dry run, progress, Ctrl-C and resume."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from fake_massive_rest import FakeMassiveRest, ms, serve_history, trading_days
from rich.console import Console
from server_process import sigint_as_in_a_terminal

from tickstock_server.embedded import EmbeddedPostgres
from tickstock_server.loader.__main__ import build_parser, run_cli
from tickstock_server.storage.migrate import apply_migrations

API_KEY = "sk-test-cli-0c1d2e"
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META")
FIRST, LAST = dt.date(2025, 1, 2), dt.date(2025, 1, 10)


def _trading_days() -> list[dt.date]:
    return trading_days(FIRST, LAST)


def _serve_history(fake: FakeMassiveRest, symbols: tuple[str, ...]) -> None:
    serve_history(fake, symbols, FIRST, LAST)


@pytest.fixture
def fake() -> Iterator[FakeMassiveRest]:
    with FakeMassiveRest(api_key=API_KEY) as server:
        yield server


@pytest.fixture
async def pool(pg_pool: asyncpg.Pool) -> asyncpg.Pool:
    await apply_migrations(pg_pool)
    return pg_pool


def _argv(fake: FakeMassiveRest, *extra: str) -> list[str]:
    return [
        "--symbols", ",".join(SYMBOLS), "--from", FIRST.isoformat(), "--to", LAST.isoformat(),
        "--bars", "daily,minute", "--minute-chunk-days", "1", "--base-url", fake.base_url, *extra,
    ]  # fmt: skip


async def _table_counts(pool: asyncpg.Pool) -> tuple[int, int, int]:
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM ohlcv_daily) AS daily, (SELECT count(*) FROM ohlcv_1min) AS minute,"
        " (SELECT count(*) FROM load_progress) AS progress"
    )
    assert row is not None
    return row["daily"], row["minute"], row["progress"]


async def test_concurrency_bound_is_what_the_server_sees(
    fake: FakeMassiveRest, pool: asyncpg.Pool, pg_database_url: str
) -> None:
    _serve_history(fake, SYMBOLS)
    fake.data.delay_s = 0.15  # long enough for every worker's request to overlap the others'

    status = await run_cli(
        _argv(fake, "--concurrency", "3"),
        {"MASSIVE_API_KEY": API_KEY, "TICKSTOCK_DATABASE_URL": pg_database_url},
    )

    assert status == 0
    assert fake.max_in_flight == 3
    days = len(_trading_days())
    assert await _table_counts(pool) == (days * len(SYMBOLS), 3 * days * len(SYMBOLS), 10 * len(SYMBOLS))


async def test_dry_run_prints_the_plan_and_writes_nothing(
    fake: FakeMassiveRest, pool: asyncpg.Pool, pg_database_url: str
) -> None:
    _serve_history(fake, SYMBOLS)
    screen = io.StringIO()

    status = await run_cli(
        [*_argv(fake, "--dry-run"), "--reference"],
        {"MASSIVE_API_KEY": API_KEY, "TICKSTOCK_DATABASE_URL": pg_database_url},
        console=Console(file=screen, width=200, highlight=False),
    )

    assert status == 0
    assert fake.requests == []
    assert await _table_counts(pool) == (0, 0, 0)
    plan = screen.getvalue()
    assert "symbols: 6 (AAPL, MSFT, NVDA, AMZN, GOOG, META)" in plan
    assert "days: 2025-01-02 to 2025-01-10" in plan
    assert "daily chunks: 6 planned, 0 completed by an earlier run, 6 to load" in plan
    assert "minute chunks: 54 planned, 0 completed by an earlier run, 54 to load" in plan
    assert "  minute NVDA 2025-01-04..2025-01-04  ~1 request" in plan
    # 60 chunks of one page each, and one reference request per symbol.
    assert "estimated requests: 66 at most" in plan


async def test_dry_run_on_a_new_database_creates_no_schema(
    fake: FakeMassiveRest, pg_pool: asyncpg.Pool, pg_database_url: str
) -> None:
    status = await run_cli(
        _argv(fake, "--dry-run"),
        {"TICKSTOCK_DATABASE_URL": pg_database_url},
        console=Console(file=io.StringIO()),
    )

    assert status == 0
    assert await pg_pool.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0


async def test_progress_display_shows_chunks_rows_and_failures(
    fake: FakeMassiveRest, pool: asyncpg.Pool, pg_database_url: str
) -> None:
    _serve_history(fake, ("AAPL",))
    fake.data.fail = lambda path: 403 if "/day/" in path else None
    screen = io.StringIO()

    status = await run_cli(
        ["--symbols", "AAPL", "--from", "2025-01-02", "--to", "2025-01-03", "--bars", "daily,minute",
         "--base-url", fake.base_url],
        {"MASSIVE_API_KEY": API_KEY, "TICKSTOCK_DATABASE_URL": pg_database_url},
        console=Console(file=screen, width=160, force_terminal=True, color_system=None),
    )  # fmt: skip

    assert status == 1
    shown = screen.getvalue()
    assert "2 chunks planned: 0 completed by an earlier run" in shown
    assert "daily AAPL 2025-01-02..2025-01-03 failed: " in shown
    assert "all chunks" in shown
    assert "2/2" in shown
    assert "6 rows" in shown
    assert "1 failed" in shown


async def _wait_for_progress_rows(pool: asyncpg.Pool, at_least: int, process: Any) -> None:
    while await pool.fetchval("SELECT count(*) FROM load_progress") < at_least:
        assert process.returncode is None, "the loader ended before it could be interrupted"
        await asyncio.sleep(0.05)


async def test_ctrl_c_then_rerun_ends_with_exactly_the_full_data_set(
    fake: FakeMassiveRest, pool: asyncpg.Pool, pg_database_url: str, tmp_path: Path
) -> None:
    _serve_history(fake, SYMBOLS)
    fake.data.hold_after = 20  # the first run cannot finish before it is interrupted, however fast
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKSTOCK_")}
    env.update(MASSIVE_API_KEY=API_KEY, TICKSTOCK_DATABASE_URL=pg_database_url)
    command = [sys.executable, "-m", "tickstock_server.loader", *_argv(fake)]
    with (tmp_path / "first.log").open("wb") as log:
        first = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=log, stderr=log, preexec_fn=sigint_as_in_a_terminal
        )
        await asyncio.wait_for(_wait_for_progress_rows(pool, 12, first), 60)
        first.send_signal(signal.SIGINT)
        fake.release.set()  # held requests would keep the interrupted loader's HTTP threads waiting
        assert await asyncio.wait_for(first.wait(), 30) == 130
    interrupted_at = await pool.fetchval("SELECT count(*) FROM load_progress")
    assert 12 <= interrupted_at < 60, (tmp_path / "first.log").read_text()
    assert "interrupted; completed chunks are kept" in (tmp_path / "first.log").read_text()

    with (tmp_path / "second.log").open("wb") as log:
        second = await asyncio.create_subprocess_exec(*command, env=env, stdout=log, stderr=log)
        assert await asyncio.wait_for(second.wait(), 120) == 0, (tmp_path / "second.log").read_text()

    resumed = (tmp_path / "second.log").read_text()
    assert f"60 chunks planned: {interrupted_at} completed by an earlier run" in resumed
    days = len(_trading_days())
    assert await _table_counts(pool) == (days * len(SYMBOLS), 3 * days * len(SYMBOLS), 60)
    stored = await pool.fetch("SELECT symbol, ts, open, close, volume FROM ohlcv_1min ORDER BY symbol, ts")
    expected = sorted(
        (symbol, agg["t"], agg["o"], agg["c"], agg["v"])
        for symbol in SYMBOLS
        for agg in fake.data.minute[symbol]
    )
    assert [
        (row["symbol"], ms(row["ts"]), float(row["open"]), float(row["close"]), row["volume"])
        for row in stored
    ] == expected
    daily = await pool.fetch("SELECT symbol, date, close, volume FROM ohlcv_daily ORDER BY symbol, date")
    assert [(row["symbol"], row["date"], float(row["close"]), row["volume"]) for row in daily] == sorted(
        (symbol, day, 100.0 + 10 * SYMBOLS.index(symbol) + day.day, 1_000 * day.day)
        for symbol in SYMBOLS
        for day in _trading_days()
    )


async def test_without_database_url_loads_into_the_embedded_database_of_the_data_dir(
    fake: FakeMassiveRest, tmp_path: Path
) -> None:
    # The cluster tickstock-server would have created on its first start; it is not running now.
    cluster = EmbeddedPostgres(tmp_path / "data" / "postgres")
    await asyncio.to_thread(cluster.start)
    await asyncio.to_thread(cluster.stop)
    _serve_history(fake, ("AAPL",))
    argv = ["--symbols", "AAPL", "--from", "2025-01-02", "--to", "2025-01-03", "--bars", "daily",
            "--base-url", fake.base_url]  # fmt: skip

    status = await run_cli(argv, {"MASSIVE_API_KEY": API_KEY, "TICKSTOCK_DATA_DIR": str(tmp_path / "data")})

    assert status == 0
    cluster = EmbeddedPostgres(tmp_path / "data" / "postgres")
    await asyncio.to_thread(cluster.start)
    try:
        connection = await asyncpg.connect(cluster.url)
        try:
            assert await connection.fetchval("SELECT count(*) FROM ohlcv_daily WHERE symbol = 'AAPL'") == 2
        finally:
            await connection.close()
    finally:
        await asyncio.to_thread(cluster.stop)


async def test_without_database_url_or_embedded_database_exits_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--symbols", "AAPL", "--from", "2025-01-02", "--data-dir", str(tmp_path / "nothing")]

    with pytest.raises(SystemExit) as exit_info:
        await run_cli(argv, {"MASSIVE_API_KEY": API_KEY})

    assert exit_info.value.code == 2
    assert "no embedded database in" in capsys.readouterr().err


def test_concurrency_defaults_to_four_and_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    assert build_parser({}).parse_args(["--symbols", "AAPL"]).concurrency == 4
    with pytest.raises(SystemExit):
        build_parser({}).parse_args(["--symbols", "AAPL", "--concurrency", "0"])
    assert "not a positive integer: '0'" in capsys.readouterr().err
