"""PgBarWriter on a real PostgreSQL: merges, retries, flush triggers, backpressure, outage and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
from factories import REGULAR_TS_NS

from tickstock_server.domain.bar import Bar
from tickstock_server.embedded import EmbeddedPostgres
from tickstock_server.storage.bar_writer import PgBarWriter
from tickstock_server.storage.database import create_pool
from tickstock_server.storage.migrate import apply_migrations

_NS_PER_MINUTE = 60_000_000_000
_MINUTE_NS = REGULAR_TS_NS - REGULAR_TS_NS % _NS_PER_MINUTE
"""2026-01-06 15:00 UTC."""
_MINUTE = dt.datetime(2026, 1, 6, 15, 0, tzinfo=dt.UTC)
_WAITING_ON_LOCK = (
    "FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    " AND backend_type = 'client backend'"
)
"""Client backends of the test's database waiting for a lock (the writer's, behind the test's lock)."""
_Row = tuple[str, dt.datetime, Decimal, Decimal, Decimal, Decimal, int]


def _bar(
    symbol: str = "AAPL",
    minute: int = 0,
    *,
    open: float = 10.0,
    high: float = 11.0,
    low: float = 9.0,
    close: float = 10.5,
    volume: int = 100,
) -> Bar:
    return Bar(
        symbol=symbol,
        start_ns=_MINUTE_NS + minute * _NS_PER_MINUTE,
        open=open,
        high=high,
        low=low,
        close=close,
        volume=volume,
        ticks=1,
    )


def _row(bar: Bar) -> _Row:
    """The row `bar` becomes when written on its own."""
    return (
        bar.symbol,
        _MINUTE + dt.timedelta(minutes=(bar.start_ns - _MINUTE_NS) // _NS_PER_MINUTE),
        Decimal(repr(bar.open)),
        Decimal(repr(bar.high)),
        Decimal(repr(bar.low)),
        Decimal(repr(bar.close)),
        bar.volume,
    )


async def _rows(pool: asyncpg.Pool) -> list[_Row]:
    records = await pool.fetch(
        "SELECT symbol, ts, open, high, low, close, volume FROM ohlcv_1min ORDER BY symbol, ts"
    )
    return [tuple(record) for record in records]  # type: ignore[misc]


async def _eventually(condition: Callable[[], Awaitable[bool] | bool], timeout_s: float = 15.0) -> None:
    """Wait until `condition` holds; the timeout only guards against hanging."""
    async with asyncio.timeout(timeout_s):
        while True:
            result = condition()
            if await result if inspect.isawaitable(result) else result:
                return
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def _running(writer: PgBarWriter) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(writer.run())
    try:
        yield task
    finally:
        await writer.close(timeout_s=10.0)
        await task


@pytest.fixture
async def pool(pg_pool: asyncpg.Pool) -> asyncpg.Pool:
    await apply_migrations(pg_pool)
    return pg_pool


# Golden table: (stored row, incoming revision) -> row after the flush. Stored rows use the bar helper's
# values unless the case says otherwise: open 10, high 11, low 9, close 10.5, volume 100.
_MERGE_CASES = [
    pytest.param(
        None,
        _bar(open=10.0, high=11.0, low=9.0, close=10.5, volume=100),
        ("AAPL", _MINUTE, Decimal("10"), Decimal("11"), Decimal("9"), Decimal("10.5"), 100),
        id="no_stored_row_inserts_revision",
    ),
    pytest.param(
        _bar(),
        _bar(open=10.0, high=12.0, low=9.0, close=11.5, volume=150),
        # high max(11, 12) = 12; close and volume replaced: 11.5, 150 (not 100 + 150).
        ("AAPL", _MINUTE, Decimal("10"), Decimal("12"), Decimal("9"), Decimal("11.5"), 150),
        id="later_revision_raises_high_replaces_close_and_volume",
    ),
    pytest.param(
        _bar(),
        _bar(open=10.25, high=10.75, low=8.5, close=8.75, volume=300),
        # open kept 10 (not 10.25); high max(11, 10.75) = 11; low min(9, 8.5) = 8.5; close 8.75, volume 300.
        ("AAPL", _MINUTE, Decimal("10"), Decimal("11"), Decimal("8.5"), Decimal("8.75"), 300),
        id="revision_keeps_first_open_and_stored_high_lowers_low",
    ),
    pytest.param(
        _bar(),
        _bar(),
        # Same revision again (a retried flush): every column unchanged, volume 100 not 200.
        ("AAPL", _MINUTE, Decimal("10"), Decimal("11"), Decimal("9"), Decimal("10.5"), 100),
        id="same_revision_twice_leaves_row_unchanged",
    ),
    pytest.param(
        _bar(),
        _bar(open=10.0, high=10.1, low=9.9, close=10.0, volume=50),
        # A smaller volume still replaces: the revision's cumulative value is the truth; 50.
        ("AAPL", _MINUTE, Decimal("10"), Decimal("11"), Decimal("9"), Decimal("10.0"), 50),
        id="narrower_revision_keeps_range_replaces_volume",
    ),
]


@pytest.mark.parametrize(("stored", "incoming", "expected"), _MERGE_CASES)
async def test_flush_merges_revision_into_stored_row(
    pool: asyncpg.Pool, stored: Bar | None, incoming: Bar, expected: _Row
) -> None:
    # Arrange
    if stored is not None:
        await pool.execute(
            "INSERT INTO ohlcv_1min (symbol, ts, open, high, low, close, volume) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            *_row(stored),
        )
    writer = PgBarWriter(pool)

    # Act
    await writer.put([incoming])
    await writer.close()

    # Assert
    assert await _rows(pool) == [expected]


async def test_prices_are_stored_as_their_shortest_decimal(pool: asyncpg.Pool) -> None:
    # Arrange: 0.1 + 0.2 is 0.30000000000000004 as a float; 15 significant digits give 0.3.
    writer = PgBarWriter(pool)

    # Act
    await writer.put([_bar(open=123.45, high=0.1 + 0.2, low=0.0001, close=99.99)])
    await writer.close()

    # Assert
    assert await _rows(pool) == [
        ("AAPL", _MINUTE, Decimal("123.45"), Decimal("0.3"), Decimal("0.0001"), Decimal("99.99"), 100)
    ]


async def test_same_batch_flushed_twice_does_not_double_volume(pool: asyncpg.Pool) -> None:
    # Arrange
    bars = [_bar("AAPL", volume=100), _bar("MSFT", volume=70)]
    first = PgBarWriter(pool)
    await first.put(bars)
    await first.close()

    # Act: the same batch again, as a retry after a commit whose acknowledgement was lost.
    second = PgBarWriter(pool)
    await second.put(bars)
    await second.close()

    # Assert
    assert [row[6] for row in await _rows(pool)] == [100, 70]
    assert second.stats().rows_written == 2


async def test_newer_revision_in_buffer_replaces_older(pool: asyncpg.Pool) -> None:
    # Arrange
    writer = PgBarWriter(pool)

    # Act
    await writer.put([_bar(close=10.5, volume=100), _bar("MSFT")])
    await writer.put([_bar(high=11.5, close=11.25, volume=180)])

    # Assert
    pending = {bar.symbol: bar for bar in writer.pending_bars()}
    assert len(pending) == 2
    assert pending["AAPL"].volume == 180
    await writer.close()
    assert writer.pending_bars() == []
    assert writer.stats().rows_written == 2


async def test_flush_killed_mid_write_loses_nothing_and_keeps_newest_revision(
    pool: asyncpg.Pool, pg_database_url: str
) -> None:
    # Arrange: a lock on ohlcv_1min makes the writer's upsert wait, so its backend can be terminated
    # in the middle of the flush.
    writer = PgBarWriter(pool, flush_rows=2, flush_interval_s=0.05, retry_initial_s=0.05, retry_max_s=0.2)
    blocker = await asyncpg.connect(pg_database_url)
    try:
        await blocker.execute("BEGIN; LOCK TABLE ohlcv_1min IN EXCLUSIVE MODE")
        async with _running(writer):
            await writer.put([_bar("AAPL", volume=100), _bar("MSFT", volume=10)])
            await _eventually(lambda: _upsert_waiting_for_lock(blocker))

            # Act
            await blocker.execute(f"SELECT pg_terminate_backend(pid) {_WAITING_ON_LOCK}")
            await _eventually(lambda: writer.stats().failed_flushes >= 1)
            await writer.put([_bar("AAPL", high=12.0, close=11.75, volume=250)])
            await blocker.execute("ROLLBACK")
            await _eventually(lambda: not writer.pending_bars())
    finally:
        await blocker.close()

    # Assert
    assert await _rows(pool) == [
        ("AAPL", _MINUTE, Decimal("10"), Decimal("12"), Decimal("9"), Decimal("11.75"), 250),
        ("MSFT", _MINUTE, Decimal("10"), Decimal("11"), Decimal("9"), Decimal("10.5"), 10),
    ]
    stats = writer.stats()
    assert stats.failed_flushes >= 1
    assert stats.last_error is None
    assert stats.healthy


async def test_one_part_of_parallel_flush_killed_rewrites_only_what_is_missing(
    pool: asyncpg.Pool, pg_database_url: str
) -> None:
    # Arrange: 5,000 bars make a flush over two connections (split by symbol), held up by the lock.
    written: list[int] = []
    writer = PgBarWriter(
        pool,
        flush_rows=5_000,
        retry_initial_s=0.05,
        retry_max_s=0.2,
        on_written=lambda bars: written.append(len(bars)),
    )
    bars = [_bar(f"S{index:04d}", volume=index) for index in range(5_000)]
    blocker = await asyncpg.connect(pg_database_url)
    try:
        await blocker.execute("BEGIN; LOCK TABLE ohlcv_1min IN EXCLUSIVE MODE")
        async with _running(writer):
            await writer.put(bars)
            await _eventually(lambda: _upsert_waiting_for_lock(blocker))

            # Act: terminate one writing backend (the other part may still be on its way), then let the
            # rest commit.
            await blocker.execute(f"SELECT pg_terminate_backend(pid) {_WAITING_ON_LOCK} LIMIT 1")
            await blocker.execute("ROLLBACK")
            await _eventually(lambda: not writer.pending_bars())
    finally:
        await blocker.close()

    # Assert: every bar once, with its own volume; the surviving part was not written again.
    rows = await _rows(pool)
    assert [(row[0], row[6]) for row in rows] == [(bar.symbol, bar.volume) for bar in bars]
    assert sum(written) == 5_000
    assert len(written) >= 2
    stats = writer.stats()
    assert stats.rows_written == 5_000
    assert stats.failed_flushes == 1


async def _upsert_waiting_for_lock(conn: asyncpg.Connection) -> bool:
    count: int = await conn.fetchval(f"SELECT count(*) {_WAITING_ON_LOCK}")
    return count >= 1


async def test_pending_rows_reaching_flush_rows_flush_without_waiting_for_interval(
    pool: asyncpg.Pool,
) -> None:
    # Arrange: an interval no test waits for, so only the size can trigger the flush.
    writer = PgBarWriter(pool, flush_rows=10, flush_interval_s=3600.0)

    async with _running(writer):
        # Act
        await writer.put([_bar(f"S{index:02d}") for index in range(10)])

        # Assert: the writer counts a flush once its commit returned, so the rows are in by then (a
        # reader can see them a moment before the count).
        await _eventually(lambda: writer.stats().flushes == 1)
        assert await _count_is(pool, 10)


async def test_pending_rows_below_flush_rows_flush_after_interval(pool: asyncpg.Pool) -> None:
    # Arrange
    writer = PgBarWriter(pool, flush_rows=1_000, flush_interval_s=0.1)

    async with _running(writer):
        # Act
        await writer.put([_bar("AAPL"), _bar("MSFT")])

        # Assert
        await _eventually(lambda: writer.stats().flushes == 1)
        assert await _count_is(pool, 2)
        assert writer.stats().last_flush_lag_s is not None


async def _count_is(pool: asyncpg.Pool, expected: int) -> bool:
    count: int = await pool.fetchval("SELECT count(*) FROM ohlcv_1min")
    return count == expected


async def test_full_buffer_blocks_put_until_flush_frees_room(
    pool: asyncpg.Pool, pg_database_url: str
) -> None:
    # Arrange: a lock keeps the first flush from committing, so the buffer stays full.
    writer = PgBarWriter(pool, max_pending=5, flush_rows=5, flush_interval_s=3600.0)
    blocker = await asyncpg.connect(pg_database_url)
    try:
        await blocker.execute("BEGIN; LOCK TABLE ohlcv_1min IN EXCLUSIVE MODE")
        async with _running(writer):
            await writer.put([_bar(f"S{index}") for index in range(5)])
            await _eventually(lambda: _upsert_waiting_for_lock(blocker))

            # Act
            blocked = asyncio.create_task(writer.put([_bar("S5")]))
            await _eventually(lambda: writer.stats().backpressure_waits == 1)
            # A revision of a pending bar takes no room, so it does not wait.
            await writer.put([_bar("S0", volume=500)])
            full = writer.stats()
            blocked_while_full = not blocked.done()
            await blocker.execute("ROLLBACK")
            await asyncio.wait_for(blocked, timeout=15.0)
    finally:
        await blocker.close()

    # Assert
    assert blocked_while_full
    assert not full.healthy
    assert full.pending == 5
    assert len(await _rows(pool)) == 6
    assert await pool.fetchval("SELECT volume FROM ohlcv_1min WHERE symbol = 'S0'") == 500
    assert writer.stats().backpressure_s > 0


async def test_close_writes_every_pending_bar(pool: asyncpg.Pool) -> None:
    # Arrange
    writer = PgBarWriter(pool, flush_rows=1_000, flush_interval_s=3600.0)
    task = asyncio.create_task(writer.run())
    bars = [_bar(f"S{index:03d}", minute) for index in range(100) for minute in range(3)]
    await writer.put(bars)

    # Act
    await writer.close()

    # Assert
    await asyncio.wait_for(task, timeout=5.0)
    assert len(await _rows(pool)) == 300
    assert writer.pending_bars() == []
    with pytest.raises(RuntimeError):
        await writer.put([_bar()])


async def test_close_with_database_unreachable_gives_up_after_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange: a pool on a socket directory where no server listens; min_size 0 connects lazily.
    pool = await asyncpg.create_pool(f"postgresql://postgres@/postgres?host={tmp_path}", min_size=0)
    writer = PgBarWriter(pool, retry_initial_s=0.05, retry_max_s=0.1)
    await writer.put([_bar()])

    # Act
    with caplog.at_level(logging.WARNING, logger="tickstock_server.storage.bar_writer"):
        await writer.close(timeout_s=0.3)
    await pool.close()

    # Assert
    assert writer.pending_bars() == [_bar()]
    stats = writer.stats()
    assert stats.failed_flushes >= 1
    assert not stats.healthy
    assert stats.last_error is not None
    assert any(record.levelno == logging.ERROR for record in caplog.records)
    assert any("attempt 1" in record.getMessage() for record in caplog.records)


async def test_postgres_stopped_mid_run_loses_no_bar(tmp_path: Path) -> None:
    # Arrange: our own server, so it can be stopped; 40 symbols x 12 minutes, 3 cumulative revisions each.
    server = EmbeddedPostgres(tmp_path / "postgres")
    await asyncio.to_thread(server.start)
    try:
        pool = await create_pool(server.url, min_size=1, max_size=2)
        try:
            await apply_migrations(pool)
            writer = PgBarWriter(
                pool, flush_rows=200, flush_interval_s=0.1, retry_initial_s=0.1, retry_max_s=0.5
            )
            symbols = [f"S{index:02d}" for index in range(40)]
            minutes = 12
            produced: dict[tuple[str, int], Bar] = {}
            outage_started = asyncio.Event()
            outage_over = asyncio.Event()

            async def produce() -> None:
                for minute in range(minutes):
                    if minute == 4:
                        outage_started.set()
                    for revision in range(1, 4):
                        bars = [
                            _bar(
                                symbol,
                                minute,
                                open=10.0 + index,
                                high=11.0 + index + revision,
                                low=9.0 + index - revision / 4,
                                close=10.0 + index + revision / 2,
                                volume=100 * revision + minute,
                            )
                            for index, symbol in enumerate(symbols)
                        ]
                        await writer.put(bars)
                        produced.update({(bar.symbol, bar.start_ns): bar for bar in bars})
                        await asyncio.sleep(0.05)
                    if minute == 8:
                        # The last minutes arrive after PostgreSQL is back.
                        await outage_over.wait()

            async with _running(writer):
                producer = asyncio.create_task(produce())
                await outage_started.wait()

                # Act: stop PostgreSQL for a few seconds while bars keep coming.
                await asyncio.to_thread(server.stop)
                await asyncio.sleep(3.0)
                await asyncio.to_thread(server.start)
                outage_over.set()
                await producer
            stats = writer.stats()

            # Assert: every bar present with the values of its last revision.
            rows = await _rows(pool)
        finally:
            await pool.close()
    finally:
        await asyncio.to_thread(server.stop)

    assert len(produced) == len(symbols) * minutes
    assert len(rows) == len(produced)
    assert rows == sorted(_row(bar) for bar in produced.values())
    assert stats.failed_flushes >= 1
    assert stats.pending == 0
    assert stats.healthy
