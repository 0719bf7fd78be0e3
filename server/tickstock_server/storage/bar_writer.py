"""Batched writer of one-minute bars to ``ohlcv_1min``: a bounded buffer, paced flushes, retries."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Sequence

import asyncpg

from tickstock_server.domain.bar import Bar
from tickstock_server.storage.bar_quarantine import Rejected, upsert_or_quarantine
from tickstock_server.storage.bar_restart import RestartVolumes
from tickstock_server.storage.bar_upsert import FLUSH_ERRORS, MIN_PART_ROWS, partition_bars
from tickstock_server.storage.bar_writer_stats import BarWriterStats
from tickstock_server.support.backoff import Backoff
from tickstock_server.support.metric_samples import MetricSample

__all__ = ["BarWriterStats", "PgBarWriter"]

_logger = logging.getLogger(__name__)

_SCHEDULING_MARGIN_S = 0.05
"""How much earlier than strictly needed an interval flush starts: the event loop may be busy (the
pipeline puts bars in bursts) when the flush is due."""

_BarKey = tuple[str, int]


class PgBarWriter:
    """Buffers one-minute bars and writes them to ``ohlcv_1min`` (migration 0002) in batches.

    The buffer holds the newest revision of each (symbol, start_ns) bar, so it is bounded by distinct
    bars and a flush never writes one row twice. A flush copies the buffer (at most half of
    ``max_pending`` bars, oldest first) into a temporary staging table (or sends it as column arrays)
    and merges it with one ``INSERT ... ON CONFLICT`` in one transaction; bars leave the buffer only
    when that commits.
    Bars PostgreSQL rejects for their data (not for being unreachable) are isolated by splitting the
    write, moved to ``ohlcv_1min_quarantine`` (migration 0011), counted and logged; the rest is written. A
    failed flush (PostgreSQL down or restarting) is retried with capped exponential backoff, with
    newer revisions that arrived meanwhile replacing the ones it held, so nothing is lost. When
    ``max_pending`` bars are waiting, `put` waits for room (backpressure on ingest) instead of
    dropping.

    Run `run` as a long-lived task and call `close` at shutdown to write what is left. Bar start
    times are written with microsecond precision (one-minute bars are whole minutes).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_pending: int = 50_000,
        flush_rows: int = 5_000,
        flush_interval_s: float = 1.0,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        flush_timeout_s: float = 30.0,
        flush_connections: int = 2,
        on_written: Callable[[Sequence[Bar]], None] | None = None,
        continues_stored_minutes: bool = False,
        copy: bool = True,
    ) -> None:
        """Create a writer with an empty buffer; nothing is written until `run` or `close`.

        Args:
            pool: Pool on a database migrated to at least version 0002; the caller owns and closes it.
            max_pending: Most distinct bars held before `put` waits (backpressure).
            flush_rows: Pending bars that trigger a flush at once.
            flush_interval_s: Seconds after the oldest unflushed put by which it should be durable: a
                flush starts then, less its expected duration (from earlier flushes; at most half of
                this).
            retry_initial_s: Seconds to wait after the first failed flush; doubles per failure.
            retry_max_s: Longest wait between retries in seconds.
            flush_timeout_s: Time limit of one flush attempt in seconds; a flush over it counts as failed.
            flush_connections: Pool connections a large flush writes over in parallel (split by symbol,
                one transaction each); batches under 1,000 bars per connection use fewer.
            on_written: Called after each successful flush with the bars it made durable (metrics,
                benchmarks); it must not block.
            continues_stored_minutes: The bars continue where an earlier process's stopped (a live
                feed): each symbol's first minute adds the volume stored before (see RestartVolumes).
            copy: Send bars by COPY; False sends them as arrays, for servers without COPY (PGlite).
        """
        if max_pending < 1 or flush_rows < 1 or flush_connections < 1:
            raise ValueError("max_pending, flush_rows and flush_connections must be at least 1")
        if flush_rows > max_pending:
            raise ValueError(f"flush_rows ({flush_rows}) must not exceed max_pending ({max_pending})")
        if flush_interval_s <= 0 or retry_initial_s <= 0 or flush_timeout_s <= 0:
            raise ValueError("flush_interval_s, retry_initial_s and flush_timeout_s must be positive")
        if retry_max_s < retry_initial_s:
            raise ValueError("retry_max_s must not be less than retry_initial_s")
        self._pool = pool
        self._max_pending = max_pending
        self._flush_rows = flush_rows
        self._flush_interval_s = flush_interval_s
        self._retry = Backoff(retry_initial_s, retry_max_s)
        self._flush_timeout_s = flush_timeout_s
        self._flush_connections = flush_connections
        self._on_written = on_written
        self._restart_volumes = RestartVolumes() if continues_stored_minutes else None
        self._copy = copy
        # A flush writes at most half the buffer, so puts can fill the other half while it runs
        # (pipelining) instead of waiting for a flush of the whole buffer to commit.
        self._max_batch = max(flush_rows, max_pending // 2)

        self._pending: dict[_BarKey, Bar] = {}
        # Monotonic time of the oldest put whose bar is pending and not in a flush under way.
        self._oldest_put_s: float | None = None
        self._flush_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        """Set when the flush loop should look again: a put, a full buffer, or close."""
        self._room = asyncio.Event()
        """Set when a flush has freed buffer space (or the writer closed)."""
        self._room_waiters = 0
        self._run_exited = asyncio.Event()
        self._running = False
        self._closing = False
        self._closed = False

        self._rows_written = 0
        self._quarantined = 0
        self._flushes = 0
        self._failed_flushes = 0
        self._consecutive_failures = 0
        self._backpressure_waits = 0
        self._backpressure_s = 0.0
        self._last_flush_lag_s: float | None = None
        self._last_flush_s = 0.0
        """Duration of the last successful flush in seconds."""
        self._flush_s_per_row = 0.0
        """Seconds per bar of the last successful flush of at least MIN_PART_ROWS bars."""
        self._last_error: str | None = None

    async def put(self, bars: Sequence[Bar]) -> None:
        """Buffer `bars`, each replacing a pending older revision of the same (symbol, start_ns).

        Waits while the buffer holds ``max_pending`` bars and a bar would add a new one; never drops.

        Raises:
            RuntimeError: The writer is closed (or closed while this call waited for room).
        """
        if self._closing:
            raise RuntimeError("the bar writer is closed")
        pending = self._pending
        for bar in bars:
            key = (bar.symbol, bar.start_ns)
            if len(pending) >= self._max_pending and key not in pending:
                await self._wait_for_room(key)
            pending[key] = bar
            if self._oldest_put_s is None:
                self._oldest_put_s = time.monotonic()
        # Every put call (not every bar) wakes the flush loop: the due time depends on how many bars
        # are pending, through the expected flush duration.
        self._wake.set()

    def pending_bars(self) -> list[Bar]:
        """Return the bars not yet known to be durable, newest revision of each; a snapshot."""
        return list(self._pending.values())

    def as_stored(self, bars: Sequence[Bar]) -> list[Bar]:
        """`bars` (pending, or the aggregator's open minute) with what their writes add to them."""
        restart = self._restart_volumes
        return list(bars) if restart is None else [restart.with_stored(bar) for bar in bars]

    def stats(self) -> BarWriterStats:
        """Return a snapshot of the counters and health."""
        return BarWriterStats(
            rows_written=self._rows_written,
            quarantined=self._quarantined,
            flushes=self._flushes,
            failed_flushes=self._failed_flushes,
            pending=len(self._pending),
            backpressure_waits=self._backpressure_waits,
            backpressure_s=self._backpressure_s,
            last_flush_lag_s=self._last_flush_lag_s,
            last_error=self._last_error,
            healthy=self.healthy,
        )

    def metric_samples(self) -> list[MetricSample]:
        """The counters and health of `stats`, as metric samples."""
        return self.stats().metric_samples()

    @property
    def healthy(self) -> bool:
        """False while flushes are failing or the buffer is full (`put` would wait)."""
        return self._consecutive_failures == 0 and len(self._pending) < self._max_pending

    async def run(self) -> None:
        """Flush by size or interval until `close`; retries failed flushes with backoff.

        Returns when `close` is called (which then writes what is left). Cancelling it is safe: bars of
        an interrupted flush stay pending.
        """
        if self._running:
            raise RuntimeError("the bar writer is already running")
        if self._closing:
            return
        self._running = True
        self._run_exited.clear()
        _logger.info(
            "bar writer started (flush at %d bars or after %.1f s, at most %d pending)",
            self._flush_rows,
            self._flush_interval_s,
            self._max_pending,
        )
        try:
            while await self._wait_until_due():
                if not await self._flush():
                    await self._sleep_unless_closing(self._log_retry())
        finally:
            self._running = False
            self._run_exited.set()

    async def close(self, timeout_s: float = 30.0) -> None:
        """Stop `run`, then write every pending bar, retrying while PostgreSQL is unavailable.

        Gives up after `timeout_s` seconds of failing with an ERROR naming how many bars were not
        written (they stay in `pending_bars`). Later `put` calls raise.

        Args:
            timeout_s: Seconds to keep retrying the final flush.
        """
        if self._closed:
            return
        self._closing = True
        self._wake.set()
        if self._running:
            await self._run_exited.wait()
        deadline_s = time.monotonic() + timeout_s
        # put() calls that were waiting for room may still add bars while this loop runs; they are
        # written too, since the loop ends only with an empty buffer (or at the deadline).
        while self._pending:
            if await self._flush():
                continue
            delay_s = self._log_retry()
            remaining_s = deadline_s - time.monotonic()
            if remaining_s <= 0:
                _logger.error(
                    "bar writer closed with %d bars not written: PostgreSQL unavailable for the last %.1f s",
                    len(self._pending),
                    timeout_s,
                )
                break
            await asyncio.sleep(min(delay_s, remaining_s))
        self._closed = True
        self._room.set()  # releases put() calls still waiting; they raise
        _logger.info(
            "bar writer closed (%d rows written in %d flushes, %d failed flushes)",
            self._rows_written,
            self._flushes,
            self._failed_flushes,
        )

    async def _wait_for_room(self, key: _BarKey) -> None:
        started_s = time.monotonic()
        self._backpressure_waits += 1
        self._room_waiters += 1
        try:
            while len(self._pending) >= self._max_pending and key not in self._pending:
                if self._closed:
                    raise RuntimeError("the bar writer closed while put() waited for room")
                self._room.clear()
                self._wake.set()
                await self._room.wait()
        finally:
            self._room_waiters -= 1
            self._backpressure_s += time.monotonic() - started_s

    async def _wait_until_due(self) -> bool:
        """Wait until a flush is due; False when the writer is closing instead."""
        while not self._closing:
            timeout_s: float | None = None
            if self._pending:
                if len(self._pending) >= self._flush_rows or self._room_waiters:
                    return True
                oldest_s = self._oldest_put_s if self._oldest_put_s is not None else time.monotonic()
                # Start early by the expected flush duration plus a margin for event-loop delays, so
                # the oldest bar is durable (not merely on its way) flush_interval_s after its put; at
                # most half the interval early.
                expected_s = max(self._last_flush_s, self._flush_s_per_row * len(self._pending))
                lead_s = min(expected_s + _SCHEDULING_MARGIN_S, self._flush_interval_s / 2)
                timeout_s = oldest_s + self._flush_interval_s - lead_s - time.monotonic()
                if timeout_s <= 0:
                    return True
            self._wake.clear()
            try:
                async with asyncio.timeout(timeout_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
        return False

    async def _sleep_unless_closing(self, delay_s: float) -> None:
        self._wake.clear()
        try:
            async with asyncio.timeout(delay_s):
                while not self._closing:
                    await self._wake.wait()
                    self._wake.clear()
        except TimeoutError:
            pass

    async def _flush(self) -> bool:
        """Write a snapshot of the buffer; True on success (or nothing to write), False on failure.

        The snapshot is split by symbol into up to ``flush_connections`` parts written concurrently,
        each in its own transaction; the parts touch disjoint rows. A part that commits leaves the
        buffer even when another fails (the merge is idempotent, so rewriting it would be harmless).
        """
        async with self._flush_lock:
            if not self._pending:
                return True
            started_s = time.monotonic()
            oldest_s = self._oldest_put_s
            if len(self._pending) <= self._max_batch:
                batch = list(self._pending.values())
                self._oldest_put_s = None
            else:
                # The oldest bars (by first put); the rest are a backlog, so the next flush is due at
                # once and _oldest_put_s stays.
                batch = list(itertools.islice(self._pending.values(), self._max_batch))
            parts = partition_bars(batch, self._flush_connections)
            try:
                results = await asyncio.gather(
                    *(self._write(part) for part in parts),
                    return_exceptions=True,
                )
            except BaseException:
                # Cancelled (run() stopped by its TaskGroup): the batch stays pending.
                if oldest_s is not None:
                    self._oldest_put_s = oldest_s
                raise
            failures = [result for result in results if isinstance(result, BaseException)]
            written: list[Bar] = []
            pending = self._pending
            for part, result in zip(parts, results, strict=True):
                if not isinstance(result, BaseException):
                    self._quarantined += len(result)
                    rejected = {(item.bar.symbol, item.bar.start_ns) for item in result}
                    written.extend(bar for bar in part if (bar.symbol, bar.start_ns) not in rejected)
                    # Only bars not replaced by a newer revision during the flush leave the buffer.
                    for bar in part:
                        key = (bar.symbol, bar.start_ns)
                        if pending.get(key) is bar:
                            del pending[key]
            self._rows_written += len(written)
            if written:
                self._room.set()
                if self._on_written is not None:
                    self._on_written(written)
            if failures:
                if oldest_s is not None:
                    # Bars of the failed parts are still pending (possibly under newer revisions).
                    self._oldest_put_s = oldest_s
                for failure in failures:
                    if not isinstance(failure, FLUSH_ERRORS):
                        raise failure
                self._failed_flushes += 1
                self._consecutive_failures += 1
                self._last_error = f"{type(failures[0]).__name__}: {failures[0]}"
                return False

        now_s = time.monotonic()
        self._last_flush_s = now_s - started_s
        if len(batch) >= MIN_PART_ROWS:
            self._flush_s_per_row = self._last_flush_s / len(batch)
        self._last_flush_lag_s = None if oldest_s is None else now_s - oldest_s
        self._flushes += 1
        if self._consecutive_failures:
            _logger.info(
                "bar flush succeeded after %d failed attempts; %d bars written, %d pending",
                self._consecutive_failures,
                len(batch),
                len(pending),
            )
        self._consecutive_failures = 0
        self._retry.reset()
        self._last_error = None
        return True

    async def _write(self, part: list[Bar]) -> list[Rejected]:
        if self._restart_volumes is not None:
            part = await self._restart_volumes.adjusted(self._pool, part, self._flush_timeout_s)
        return await upsert_or_quarantine(self._pool, part, self._flush_timeout_s, copy=self._copy)

    def _log_retry(self) -> float:
        """Log the failure of the latest flush; return the backoff before the next attempt in seconds."""
        # One call per failed flush, so the backoff's attempt count equals the consecutive failures.
        delay_s = self._retry.next_delay_s()
        _logger.warning(
            "bar flush failed (attempt %d, %s); %d bars pending, retrying in %.1f s",
            self._consecutive_failures,
            self._last_error,
            len(self._pending),
            delay_s,
        )
        return delay_s
