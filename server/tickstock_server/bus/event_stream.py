"""Persists the event log to a Redis Stream, so resume works across restarts, and reads it back for replay.

Layout (all keys under one prefix):

- ``{prefix}stream:{epoch}``: a Redis Stream with one entry per log entry of that epoch. Its id is
  ``<seq>-0``, so a replay is one ``XRANGE`` by seq. Fields: ``e`` the encoded event (as sent to
  clients), ``f`` the filter fields. Bounded by ``MAXLEN ~ max_entries`` on every append and by
  ``XTRIM MINID`` to ``max_age_s``. One key per epoch: a reader of an old epoch can never see the
  entries of a new one under the same seqs, and a new epoch deletes the old stream.
- ``{prefix}meta``: a hash with the log's ``epoch``, ``reserved``, the highest seq this log may have
  handed out, and ``closed``, 1 after a clean close. A restarted server continues the same epoch after
  ``reserved``, so a seq that reached a client but not the stream (a crash) is never reused: it is
  reported as a gap on replay instead. After a crash, the seqs it skips (after the last stored one, up to
  ``reserved``) are recorded in ``{prefix}skipped:{epoch}`` (`bus/stream_history.py`): some were never
  issued, so replay says that the gap's count is an upper bound.

One writer (the ingest process, or the all-in-one server) writes one prefix; gateways follow it
(`bus/event_follower.py`). Appends are buffered and written by `run` in MULTI/EXEC batches, off the
tick path; while Redis is unreachable the buffer holds up to `buffer_capacity` entries, then drops the
oldest (counted in `dropped`). They stay replayable from memory while the ring holds them, and a replay
that needs them from Redis reports them as a gap: a loss is always explicit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tickstock_server.bus.age_trim import AgeTrim
from tickstock_server.bus.stream_history import (
    RedisStreamHistory,
    pack_fields,
    record_skipped,
    skipped_key,
    stream_key,
)
from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.errors import DependencyUnavailableError
from tickstock_server.ports.events import LogMarks
from tickstock_server.support.backoff import Backoff
from tickstock_server.support.log_limiter import LogLimiter
from tickstock_server.support.metric_samples import MetricSample, counter, gauge

_logger = logging.getLogger(__name__)

_RETRY_INITIAL_S = 0.1
_RETRY_MAX_S = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class EventStoreConfig:
    """Bounds and pacing of the Redis Stream."""

    key_prefix: str = "tickstock:events:"
    max_entries: int = 300_000
    """Entries kept in the stream (approximately: Redis trims whole nodes)."""
    max_age_s: float = 3600.0
    """Entries older than this are trimmed, seconds."""
    buffer_capacity: int = 200_000
    """Entries waiting to be written; beyond it the oldest are dropped (and replay reports a gap)."""
    batch_size: int = 2000
    """Entries per MULTI/EXEC round trip."""
    reserve_block: int = 10_000
    """Sequence numbers reserved ahead in the meta hash."""


@dataclass(frozen=True, slots=True)
class LogPosition:
    """Where a log continues: its epoch and the last seq it may have handed out."""

    epoch: str
    last_seq: int


def meta_key(key_prefix: str) -> str:
    """The hash with the log's epoch and reservation."""
    return key_prefix + "meta"


class RedisEventStore(RedisStreamHistory):
    """The event log's persistent tail in a Redis Stream (see the module docstring); its `EventHistory`."""

    def __init__(
        self,
        client: aioredis.Redis,
        config: EventStoreConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        marks: LogMarks | None = None,
    ) -> None:
        """Write through `client`.

        `marks`, the durable high-water mark, guards against a Redis that lost entries; None lets the
        stream alone decide (tests of the stream).
        """
        self._config = config if config is not None else EventStoreConfig()
        super().__init__(client, self._config.key_prefix)  # the epoch is known once `open` has it
        self._marks = marks
        self._log_limiter = LogLimiter(60.0, time.monotonic_ns)
        self._meta = meta_key(self._config.key_prefix)
        self._buffer: deque[LogEntry] = deque()
        self._age_trim = AgeTrim(self._config.max_age_s, clock)
        self._wakeup = asyncio.Event()
        self._closed = asyncio.Event()
        self._final_seq = 0
        self._reserved = 0
        self._issued = 0
        self._resync = False
        self._closing = False
        self.appended = 0
        """Entries written to the stream."""
        self.dropped = 0
        """Entries never written because the buffer overflowed during an outage."""
        self.failures = 0
        """Failed write attempts."""
        self.healthy = True
        """False while writes fail."""
        self.mark_failures = 0
        """Failed updates of the durable high-water mark."""

    @property
    def pending(self) -> int:
        """Entries waiting to be written."""
        return len(self._buffer)

    def metric_samples(self) -> list[MetricSample]:
        """Entries written, dropped and waiting, and failed writes."""
        return [
            counter(
                "tickstock_event_store_appended", "Log entries written to the Redis Stream.", self.appended
            ),
            counter(
                "tickstock_event_store_dropped",
                "Log entries never persisted because the write buffer overflowed during a Redis outage.",
                self.dropped,
            ),
            counter("tickstock_event_store_failures", "Failed Redis Stream writes.", self.failures),
            counter(
                "tickstock_event_store_mark_failures",
                "Failed writes of the log's high-water mark to PostgreSQL.",
                self.mark_failures,
            ),
            gauge("tickstock_event_store_pending", "Log entries waiting to be written.", len(self._buffer)),
        ]

    async def open(self, *, new_epoch: bool = False) -> LogPosition:
        """Load (or create) the log's epoch and reserve sequence numbers; call once before appending.

        Args:
            new_epoch: Start a new epoch even when one is stored, dropping the stored entries. For a
                feed that starts its history again on every start (a replay file, the synthetic
                session): continuing the epoch would give the same events new seqs, and a resuming
                client would receive them twice. With a new epoch it is told EPOCH_CHANGED instead.
        """
        try:
            meta = cast(dict[bytes, bytes], await self._client.hgetall(self._meta))
            stored = meta.get(b"epoch")
            previous = stored.decode() if stored else None
            # A log that ingest shards wrote (`bus/shard_sequencer.py`) is not continued by one writer.
            sharded = b"shards" in meta
            continued = previous is not None and not new_epoch and not sharded
            position = await self._continued(previous, meta) if continued and previous else None
            if position is None:
                position = LogPosition(secrets.token_hex(8), 0)
                if previous is not None:
                    prefix = self._config.key_prefix
                    await self._client.delete(
                        stream_key(prefix, previous), skipped_key(prefix, previous), self._meta
                    )
                    _logger.info("epoch %s follows %s", position.epoch, previous)
            self._use_epoch(position.epoch)
            self._reserved = position.last_seq + self._config.reserve_block
            self._issued = position.last_seq
            # The durable mark first: a crash between the two leaves it ahead, never behind.
            if self._marks is not None and position.last_seq == 0:
                await self._marks.start(self._config.key_prefix, position.epoch, self._reserved)
            elif self._marks is not None:
                await self._advance_mark(stored=await self._last_stored_seq())
            await self._client.hset(
                self._meta, mapping={"epoch": position.epoch, "reserved": self._reserved, "closed": 0}
            )
        except RedisError as exc:
            raise DependencyUnavailableError("Redis is unreachable: cannot open the event log") from exc
        return position

    async def _continued(self, epoch: str, meta: dict[bytes, bytes]) -> LogPosition | None:
        """Where the stored epoch continues, or None when its stream lost entries it had stored."""
        self._use_epoch(epoch)
        last_stored = await self._last_stored_seq()
        reserved = int(meta.get(b"reserved", b"0"))
        last = max(reserved, last_stored)
        mark = None if self._marks is None else await self._marks.get(self._config.key_prefix, epoch)
        if mark is not None and last_stored < mark.stored:
            _logger.warning(
                "the event stream of epoch %s ends at seq %d, but it held seq %d before: Redis lost data "
                "(an older snapshot?); a new epoch starts, so no seq can name two events",
                epoch,
                last_stored,
                mark.stored,
            )
            return None
        if mark is not None:
            last = max(last, mark.reserved)
        # After a clean close `reserved` is the last seq issued; after a crash, the seqs after the last
        # stored one may have been issued or not: both are skipped, and recorded as such.
        issued = reserved if meta.get(b"closed") == b"1" else last_stored
        if last > issued:
            await record_skipped(self._client, self._config.key_prefix, epoch, issued + 1, last)
        return LogPosition(epoch, last)

    async def _advance_mark(self, *, stored: int) -> None:
        assert self._marks is not None
        await self._marks.advance(
            self._config.key_prefix, self._epoch, reserved=self._reserved, stored=stored
        )

    def add(self, entries: Iterable[LogEntry]) -> None:
        """Queue entries for writing (synchronous, never blocks the tick path)."""
        buffer = self._buffer
        capacity = self._config.buffer_capacity
        for entry in entries:
            if len(buffer) >= capacity:
                buffer.popleft()
                self.dropped += 1
            buffer.append(entry)
            self._issued = entry.seq
        self._age_trim.note(self._issued)
        self._wakeup.set()

    async def run(self) -> None:
        """Write queued entries until `close`; retry with capped backoff while Redis is unreachable."""
        backoff = Backoff(_RETRY_INITIAL_S, _RETRY_MAX_S)
        while True:
            if self._buffer:
                try:
                    await self._write_batch()
                except RedisError as exc:
                    self.failures += 1
                    self.healthy = False
                    self._resync = True
                    if self._closing:
                        _logger.warning(
                            "could not flush %d events to the stream on close (%s); they are reported as a "
                            "gap to clients that resume from before them",
                            len(self._buffer),
                            type(exc).__name__,
                        )
                        return
                    backoff_s = backoff.next_delay_s()
                    _logger.warning(
                        "event stream write failed (%s); %d entries pending, retrying in %.1f s",
                        type(exc).__name__,
                        len(self._buffer),
                        backoff_s,
                    )
                    # Wait for the backoff or for close, not for new entries (they arrive constantly).
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(backoff_s):
                            await self._closed.wait()
                    continue
                backoff.reset()
                self.healthy = True
                continue
            if self._closing:
                await self._record_end()
                return
            self._wakeup.clear()
            await self._wakeup.wait()

    def close(self, last_seq: int) -> None:
        """Ask `run` to write what is queued (one attempt) and record `last_seq` as the log's exact end.

        After a clean close a restarted server continues at `last_seq + 1` with no gap. Await the `run`
        task to wait for it.
        """
        self._final_seq = last_seq
        self._closing = True
        self._closed.set()
        self._wakeup.set()

    async def _record_end(self) -> None:
        try:
            await self._client.hset(self._meta, mapping={"reserved": self._final_seq, "closed": 1})
        except RedisError as exc:
            _logger.warning("could not record the event log's end on close (%s)", type(exc).__name__)
            return
        if self._marks is not None:
            try:
                await self._marks.end(self._config.key_prefix, self._epoch, self._final_seq)
            except DependencyUnavailableError:
                _logger.warning("could not record the event log's end in PostgreSQL; its mark stays ahead")

    async def _write_batch(self) -> None:
        if self._resync:
            # A failed MULTI/EXEC may still have been applied: skip what the stream already has.
            stored = await self._last_stored_seq()
            while self._buffer and self._buffer[0].seq <= stored:
                self._buffer.popleft()
            self._resync = False
            if not self._buffer:
                return
        config = self._config
        batch = [self._buffer[i] for i in range(min(len(self._buffer), config.batch_size))]
        async with self._client.pipeline(transaction=True) as pipe:
            for entry in batch:
                pipe.xadd(
                    self._stream,
                    {"e": entry.encoded, "f": pack_fields(entry)},
                    id=f"{entry.seq}-0",
                    maxlen=config.max_entries,
                    approximate=True,
                )
            reserving = self._issued > self._reserved - config.reserve_block // 2
            if reserving:
                self._reserved = self._issued + config.reserve_block
                pipe.hset(self._meta, "reserved", self._reserved)
            trim_seq = self._age_trim.trim_seq()
            if trim_seq:
                pipe.xtrim(self._stream, minid=f"{trim_seq}-0", approximate=True)
            await pipe.execute()
        # `add` may have dropped entries from the front meanwhile: remove by seq, not by count.
        last = batch[-1].seq
        while self._buffer and self._buffer[0].seq <= last:
            self._buffer.popleft()
        self.appended += len(batch)
        if reserving and self._marks is not None:
            try:
                await self._advance_mark(stored=last)
            except DependencyUnavailableError:
                self.mark_failures += 1
                if self._log_limiter.allow("mark"):
                    _logger.warning("could not advance the event log's mark in PostgreSQL; it lags")
