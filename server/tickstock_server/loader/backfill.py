"""Backfill planning and execution: chunks per symbol and period, resumable through ``load_progress``."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.market_session import EASTERN
from tickstock_server.errors import LoadError, TickstockError
from tickstock_server.loader.chunks import Chunk, ChunkKind, plan_chunks
from tickstock_server.loader.massive_rest import DailyBar, TickerReference
from tickstock_server.loader.progress import LoadProgress, LogProgress
from tickstock_server.storage.bar_writer import PgBarWriter
from tickstock_server.storage.database import map_asyncpg_errors

__all__ = [
    "Backfill",
    "BackfillRequest",
    "BackfillSummary",
    "HistoricalSource",
]

_logger = logging.getLogger(__name__)


# Daily bars are replaced: a historical daily bar from the API is authoritative (corrections, split
# adjustments). Prices travel as float8 and become numeric in SQL, which keeps 15 significant digits
# (123.45 stays 123.45); see storage/bar_writer.py.
_UPSERT_DAILY = """
INSERT INTO ohlcv_daily AS stored (symbol, date, open, high, low, close, volume)
SELECT symbol, date, open::numeric, high::numeric, low::numeric, close::numeric, volume
FROM unnest($1::text[], $2::date[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::int8[])
    AS t (symbol, date, open, high, low, close, volume)
ON CONFLICT (symbol, date) DO UPDATE SET
    open   = EXCLUDED.open,
    high   = EXCLUDED.high,
    low    = EXCLUDED.low,
    close  = EXCLUDED.close,
    volume = EXCLUDED.volume
"""

_RECORD_CHUNK = """
INSERT INTO load_progress (kind, symbol, first_date, last_date, rows)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (kind, symbol, first_date, last_date) DO UPDATE SET
    rows = EXCLUDED.rows,
    completed_at = now()
"""

_COMPLETED_CHUNKS = """
SELECT kind, symbol, first_date, last_date
FROM load_progress
WHERE symbol = ANY($1::text[]) AND last_date >= $2 AND first_date <= $3
"""

# Only the fields the API gave are written (COALESCE keeps the stored value otherwise); sector and
# industry come from the seed data and are never touched; no symbol is ever deleted.
_UPSERT_SYMBOL = """
INSERT INTO symbols AS stored (
    symbol, name, exchange, market, type, active, currency, market_cap,
    locale, cik, composite_figi, share_class_figi, weighted_shares_outstanding
)
VALUES (
    $1, coalesce($2, ''), coalesce($3, ''), coalesce($4, 'stocks'), coalesce($5, 'CS'),
    coalesce($6, true), coalesce($7, 'USD'), $8, $9, $10, $11, $12, $13
)
ON CONFLICT (symbol) DO UPDATE SET
    name                        = coalesce($2, stored.name),
    exchange                    = coalesce($3, stored.exchange),
    market                      = coalesce($4, stored.market),
    type                        = coalesce($5, stored.type),
    active                      = coalesce($6, stored.active),
    currency                    = coalesce($7, stored.currency),
    market_cap                  = coalesce($8, stored.market_cap),
    locale                      = coalesce($9, stored.locale),
    cik                         = coalesce($10, stored.cik),
    composite_figi              = coalesce($11, stored.composite_figi),
    share_class_figi            = coalesce($12, stored.share_class_figi),
    weighted_shares_outstanding = coalesce($13, stored.weighted_shares_outstanding),
    updated_at                  = now()
"""


class HistoricalSource(Protocol):
    """Where historical data comes from; `MassiveRestClient` is the implementation. Calls block."""

    def daily_bars(self, symbol: str, first: dt.date, last: dt.date) -> Sequence[DailyBar]:
        """Daily bars for days `first` to `last`, inclusive."""
        ...

    def minute_bars(self, symbol: str, first: dt.date, last: dt.date) -> Sequence[Bar]:
        """One-minute bars for days `first` to `last`, inclusive."""
        ...

    def ticker_reference(self, symbol: str) -> TickerReference:
        """Reference data of `symbol`."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillRequest:
    """What to load."""

    symbols: tuple[str, ...]
    """Tickers, loaded in this order."""
    first: dt.date | None = None
    """First day of bars, inclusive; required when `kinds` is not empty."""
    last: dt.date | None = None
    """Last day of bars, inclusive; required when `kinds` is not empty."""
    kinds: tuple[ChunkKind, ...] = ("daily",)
    """Bars to load; empty for reference data only."""
    reference: bool = False
    """Load ticker reference data into ``symbols`` (before the bars)."""
    minute_chunk_days: int | None = None
    """Days per minute-bar chunk; None for one chunk per calendar month."""

    def __post_init__(self) -> None:
        if self.kinds and (self.first is None or self.last is None):
            raise ValueError("first and last are required to load bars")
        if self.first is not None and self.last is not None and self.last < self.first:
            raise ValueError(f"last ({self.last}) is before first ({self.first})")
        if self.minute_chunk_days is not None and self.minute_chunk_days < 1:
            raise ValueError(f"minute_chunk_days must be at least 1, not {self.minute_chunk_days}")


@dataclass(slots=True, kw_only=True)
class BackfillSummary:
    """What a run did."""

    chunks_loaded: int = 0
    """Chunks fetched and written by this run."""
    chunks_skipped: int = 0
    """Chunks a previous run had completed."""
    chunks_failed: list[str] = field(default_factory=list)
    """Chunks that failed, with the reason; a re-run retries them."""
    rows: int = 0
    """Bar rows written (daily and minute)."""
    references_loaded: int = 0
    """Symbols whose reference data was written."""
    references_failed: list[str] = field(default_factory=list)
    """Symbols whose reference data failed, with the reason."""
    elapsed_s: float = 0.0
    """Duration of the run in seconds."""

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.chunks_failed and not self.references_failed


class Backfill:
    """Loads historical bars and reference data from a `HistoricalSource` into PostgreSQL.

    Up to `concurrency` chunks run at once (each one's REST requests in a worker thread, one request at
    a time per chunk); every request still honours the API's 429 answers (Retry-After, else exponential
    backoff; see `MassiveRestClient`). A chunk completed by an earlier run (recorded in
    ``load_progress``, migration 0004) is skipped. A failed chunk is logged and counted, and the run
    goes on with the next; a re-run retries it. Daily bars are upserted (replacing the stored day) in
    one transaction with the chunk's progress row. Minute bars go through `PgBarWriter` (its merge is
    idempotent, so a chunk written again after a crash before its progress row leaves the rows
    unchanged) and the progress row follows once they are durable.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        source: HistoricalSource,
        *,
        today: dt.date | None = None,
        write_timeout_s: float = 60.0,
        concurrency: int = 4,
        progress: LoadProgress | None = None,
    ) -> None:
        """Create a backfill.

        Args:
            pool: Pool on a database migrated to at least version 0004; the caller closes it.
            source: Where the data comes from; its blocking calls run in a worker thread.
            today: The current US Eastern trading day (default: from the clock). Chunks reaching it or
                later are loaded but not recorded as complete, because their data still grows; daily
                bars of it (or later) are not stored at all: GetBars builds today from its minutes.
            write_timeout_s: Seconds to keep retrying the write of a chunk's minute bars while
                PostgreSQL is unavailable before the chunk fails.
            concurrency: Chunks loaded at once, >= 1.
            progress: Told about every chunk (default: a log line per chunk).
        """
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self._pool = pool
        self._source = source
        self._today = today if today is not None else dt.datetime.now(EASTERN).date()
        self._write_timeout_s = write_timeout_s
        self._concurrency = concurrency
        self._progress: LoadProgress = progress if progress is not None else LogProgress()

    async def run(self, request: BackfillRequest) -> BackfillSummary:
        """Load what `request` names; report every chunk to the progress and log a summary.

        Raises:
            DependencyUnavailableError: PostgreSQL was unreachable while reading the progress.
        """
        started_s = time.monotonic()
        summary = BackfillSummary()
        if request.reference:
            await self._load_references(request.symbols, summary)
        if request.kinds:
            chunks, todo = await self.plan(request)
            summary.chunks_skipped = len(chunks) - len(todo)
            self._progress.planned(chunks=len(chunks), skipped=summary.chunks_skipped)
            # Workers share one iterator: chunks start in plan order, at most `concurrency` at a time.
            pending = iter(todo)
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self._concurrency, len(todo))):
                    group.create_task(self._work(pending, summary))
        summary.elapsed_s = time.monotonic() - started_s
        _logger.info(
            "backfill finished in %.1f s: %d rows, %d chunks loaded, %d skipped, %d failed;"
            " %d symbols' reference data loaded, %d failed",
            summary.elapsed_s,
            summary.rows,
            summary.chunks_loaded,
            summary.chunks_skipped,
            len(summary.chunks_failed),
            summary.references_loaded,
            len(summary.references_failed),
        )
        return summary

    async def plan(
        self, request: BackfillRequest, *, with_progress: bool = True
    ) -> tuple[list[Chunk], list[Chunk]]:
        """The chunks of `request`'s bars, and those of them no earlier run completed (to load).

        `with_progress` False plans without reading ``load_progress`` (a database not migrated yet).

        Raises:
            DependencyUnavailableError: PostgreSQL was unreachable while reading the progress.
        """
        if not request.kinds:
            return [], []
        assert request.first is not None and request.last is not None  # checked by BackfillRequest
        chunks = plan_chunks(
            request.symbols,
            request.first,
            request.last,
            kinds=request.kinds,
            minute_chunk_days=request.minute_chunk_days,
        )
        done = await self._completed(request.symbols, request.first, request.last) if with_progress else set()
        return chunks, [chunk for chunk in chunks if chunk not in done]

    async def _completed(self, symbols: Sequence[str], first: dt.date, last: dt.date) -> set[Chunk]:
        with map_asyncpg_errors():
            rows = await self._pool.fetch(_COMPLETED_CHUNKS, list(symbols), first, last)
        return {
            Chunk(symbol=row["symbol"], kind=row["kind"], first=row["first_date"], last=row["last_date"])
            for row in rows
        }

    async def _work(self, pending: Iterator[Chunk], summary: BackfillSummary) -> None:
        for chunk in pending:
            await self._load_chunk(chunk, summary)

    async def _load_chunk(self, chunk: Chunk, summary: BackfillSummary) -> None:
        started_s = time.monotonic()
        try:
            if chunk.kind == "daily":
                rows = await self._load_daily(chunk)
            else:
                rows = await self._load_minute(chunk)
        except TickstockError as exc:
            summary.chunks_failed.append(f"{chunk}: {exc}")
            self._progress.chunk_failed(chunk, str(exc))
            return
        summary.chunks_loaded += 1
        summary.rows += rows
        self._progress.chunk_done(
            chunk, rows=rows, elapsed_s=time.monotonic() - started_s, recorded=self._recordable(chunk)
        )

    def _recordable(self, chunk: Chunk) -> bool:
        return chunk.last < self._today

    async def _load_daily(self, chunk: Chunk) -> int:
        self._progress.chunk_phase(chunk, "fetching")
        fetched = await asyncio.to_thread(self._source.daily_bars, chunk.symbol, chunk.first, chunk.last)
        # Today's bar is still forming: stored, GetBars would serve it instead of today's minutes.
        bars = [bar for bar in fetched if bar.date < self._today]
        self._progress.chunk_phase(chunk, "writing")
        columns = (
            [bar.symbol for bar in bars],
            [bar.date for bar in bars],
            [bar.open for bar in bars],
            [bar.high for bar in bars],
            [bar.low for bar in bars],
            [bar.close for bar in bars],
            [bar.volume for bar in bars],
        )
        with map_asyncpg_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                if bars:
                    await conn.execute(_UPSERT_DAILY, *columns)
                if self._recordable(chunk):
                    await self._record(conn, chunk, len(bars))
        return len(bars)

    async def _load_minute(self, chunk: Chunk) -> int:
        self._progress.chunk_phase(chunk, "fetching")
        bars = await asyncio.to_thread(self._source.minute_bars, chunk.symbol, chunk.first, chunk.last)
        self._progress.chunk_phase(chunk, "writing")
        if bars:
            # A writer per chunk, sized to hold the whole chunk: close() writes it all and returns once
            # it is durable (or the timeout ran out), which is when the chunk may be recorded.
            writer = PgBarWriter(self._pool, max_pending=len(bars), flush_rows=len(bars))
            await writer.put(bars)
            await writer.close(timeout_s=self._write_timeout_s)
            unwritten = len(writer.pending_bars())
            if unwritten:
                raise LoadError(f"{unwritten} of {len(bars)} minute bars not written: PostgreSQL unavailable")
        if self._recordable(chunk):
            with map_asyncpg_errors():
                async with self._pool.acquire() as conn:
                    await self._record(conn, chunk, len(bars))
        return len(bars)

    @staticmethod
    async def _record(conn: asyncpg.Connection, chunk: Chunk, rows: int) -> None:
        await conn.execute(_RECORD_CHUNK, chunk.kind, chunk.symbol, chunk.first, chunk.last, rows)

    async def _load_references(self, symbols: Sequence[str], summary: BackfillSummary) -> None:
        for index, symbol in enumerate(symbols, start=1):
            position = f"[{index}/{len(symbols)}]"
            try:
                ref = await asyncio.to_thread(self._source.ticker_reference, symbol)
                with map_asyncpg_errors():
                    await self._pool.execute(
                        _UPSERT_SYMBOL,
                        ref.symbol,
                        ref.name,
                        ref.exchange,
                        ref.market,
                        ref.type,
                        ref.active,
                        ref.currency,
                        ref.market_cap,
                        ref.locale,
                        ref.cik,
                        ref.composite_figi,
                        ref.share_class_figi,
                        ref.weighted_shares_outstanding,
                    )
            except TickstockError as exc:
                summary.references_failed.append(f"{symbol}: {exc}")
                _logger.error("%s reference %s failed: %s", position, symbol, exc)
                continue
            summary.references_loaded += 1
            _logger.info("%s reference %s: %s", position, symbol, ref.name or "(no name)")
