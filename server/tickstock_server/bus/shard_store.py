"""The event log's writer in one ingest shard: its entries join the log's one order in Redis.

The shard's event log numbers its entries with local ordinals; `run` appends them in batches through
`ShardSequencer` (`bus/shard_sequencer.py`), which gives them the log's seqs. What happens when things
fail, so that no event is lost silently and no seq names two events:

- **The shard crashes.** Entries detected but not appended never got seqs. The shard records, before it
  detects more, the highest ordinal it may reach (`reserve_ordinals`), so a restart knows at most how
  many it lost: it skips that many seqs, recorded as NOT_PERSISTED with an upper-bound count. A feed
  that gives the same ticks on every start (a replay) regenerates the same events instead: the
  restarted shard leaves out the ones the stream already has, and nothing is lost.
- **Redis is unreachable.** Entries wait (bounded: the shard stops reading its feed at the ordinal it
  reserved), and `run` retries with capped backoff.
- **Redis restarted and lost data.** The scripts refuse to append until the log has skipped to its
  durable reservation in PostgreSQL (`LogMarks`), past every seq a client can hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tickstock_server.bus.age_trim import AgeTrim
from tickstock_server.bus.event_stream import EventStoreConfig
from tickstock_server.bus.shard_sequencer import ShardSequencer
from tickstock_server.bus.stream_history import RedisStreamHistory, pack_fields, skipped_key, stream_key
from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.domain.shards import Shard
from tickstock_server.errors import DependencyUnavailableError
from tickstock_server.ports.events import LogMarks, LogPoint
from tickstock_server.support.backoff import Backoff
from tickstock_server.support.metric_samples import MetricSample, counter, gauge

_logger = logging.getLogger(__name__)

_RETRY_INITIAL_S = 0.1
_RETRY_MAX_S = 5.0


class ShardEventStore(RedisStreamHistory):
    """Appends one shard's entries to the shared log (see the module docstring)."""

    def __init__(
        self,
        client: aioredis.Redis,
        config: EventStoreConfig,
        shard: Shard,
        *,
        replays_history: bool,
        marks: LogMarks | None,
        ordinal_allowance: int = 4000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Write through `client` as `shard`.

        Args:
            client: The Redis client.
            config: The stream's key prefix, bounds and batch size.
            shard: This shard.
            replays_history: The feed gives the same ticks on every start (see the module docstring).
            marks: The durable reservation of the log's seqs; None only in tests of Redis alone.
            ordinal_allowance: Entries the shard may hold unwritten before it stops reading its feed. A
                crash skips at most about twice this many seqs (plus one feed batch's events).
            clock: Monotonic clock for trimming the stream by age.
        """
        super().__init__(client, config.key_prefix)
        self._config = config
        self._sequencer = ShardSequencer(client, config.key_prefix, shard.index, shard.count)
        self._replays_history = replays_history
        self._marks = marks
        self._allowance = ordinal_allowance
        self._buffer: deque[LogEntry] = deque()
        self._age_trim = AgeTrim(self._config.max_age_s, clock)
        self._wakeup = asyncio.Event()
        self._written = asyncio.Event()
        self._closing = False
        self._suppress = 0
        self._replayable: set[int] = set()
        """Ordinals of a replay's queued entries (empty for a live feed)."""
        self._replayable_issued = 0
        self._replayable_appended = 0
        self._issued = 0
        self._appended = 0
        self._reserved = 0
        self._last_seq = 0
        self.appended = 0
        """Entries written to the stream."""
        self.suppressed = 0
        """Regenerated entries left out because the stream already had them (a replay's restart)."""
        self.skipped_seqs = 0
        """Seqs skipped after this shard's crash or a Redis restart (recorded as NOT_PERSISTED)."""
        self.failures = 0
        """Failed write attempts."""
        self.healthy = True
        """False while writes fail."""

    @property
    def epoch(self) -> str:
        """The log's epoch (after `open`)."""
        return self._epoch

    @property
    def pending(self) -> int:
        """Entries waiting to be written."""
        return len(self._buffer)

    async def open(self) -> str:
        """Join the log (starting its epoch if it has none) and settle this shard's last run; its epoch."""
        try:
            record = await self._sequencer.open(secrets.token_hex(8))
            epoch = record.epoch
            self._use_epoch(epoch)
            if record.created:
                await self._start_epoch(record.previous_epoch)
            elif record.shard_epoch == epoch and self._replays_history:
                self._suppress = record.appended
            elif record.shard_epoch == epoch and not record.clean and record.reserved > record.appended:
                lost = record.reserved - record.appended
                await self._skip(floor=0, count=lost, recover=False)
                _logger.warning(
                    "shard %s stopped abruptly: up to %d of its events never reached the log; their "
                    "seqs are skipped and reported as a gap",
                    self._sequencer.shard_key,
                    lost,
                )
            self._replayable_appended = self._suppress
            self._reserved = self._allowance
            await self._sequencer.mark_shard(epoch, appended=self._suppress, reserved=self._reserved, clean=0)
        except RedisError as exc:
            raise DependencyUnavailableError("Redis is unreachable: cannot open the event log") from exc
        return epoch

    async def _start_epoch(self, previous: str) -> None:
        if previous:
            prefix = self._key_prefix
            await self._client.delete(stream_key(prefix, previous), skipped_key(prefix, previous))
            _logger.info("epoch %s follows %s", self._epoch, previous)
        if self._marks is not None:
            await self._marks.start(self._key_prefix, self._epoch, 0)

    async def _skip(self, *, floor: int, count: int, recover: bool) -> None:
        outcome = await self._sequencer.skip(self._epoch, floor=floor, count=count, recover=recover)
        if outcome.status != "OK":
            raise DependencyUnavailableError(f"the event log changed under this shard ({outcome.status})")
        self.skipped_seqs += int(outcome.value)

    def add(self, entries: Iterable[LogEntry]) -> None:
        """Queue the feed's entries for writing (synchronous).

        Those a restarted replay already stored are left out.
        """
        for entry in entries:
            self._issued = entry.seq
            self._replayable_issued += 1
            if self._replayable_issued <= self._suppress:
                self.suppressed += 1
                continue
            self._buffer.append(entry)
            if self._replays_history:
                self._replayable.add(entry.seq)
        self._wakeup.set()

    def add_live(self, entries: Iterable[LogEntry]) -> None:
        """Queue entries that a replay does not regenerate (the producer's patterns) for writing."""
        for entry in entries:
            self._issued = entry.seq
            self._buffer.append(entry)
        self._wakeup.set()

    async def reserve_ordinals(self, count: int) -> None:
        """Wait until the shard may detect `count` more entries.

        The new bound is recorded first (durably, in Redis); once `ordinal_allowance` entries are
        unwritten, it waits for appends.
        """
        while self._issued + count > self._reserved:
            if len(self._buffer) < self._allowance:
                reserved = self._issued + count + self._allowance
                try:
                    await self._sequencer.mark_shard(self._epoch, reserved=reserved)
                except RedisError:
                    await asyncio.sleep(_RETRY_INITIAL_S)
                    continue
                self._reserved = reserved
                return
            self._written.clear()
            await self._written.wait()

    async def run(self) -> None:
        """Write queued entries until `close`; retry with capped backoff while Redis is unreachable."""
        backoff = Backoff(_RETRY_INITIAL_S, _RETRY_MAX_S)
        while True:
            if self._buffer:
                try:
                    await self._write_batch()
                except (RedisError, DependencyUnavailableError) as exc:
                    self.failures += 1
                    self.healthy = False
                    if self._closing:
                        _logger.warning(
                            "could not flush %d events to the stream on close (%s)",
                            len(self._buffer),
                            type(exc).__name__,
                        )
                        return
                    delay_s = backoff.next_delay_s()
                    _logger.warning(
                        "event stream write failed (%s); %d entries pending, retrying in %.1f s",
                        type(exc).__name__,
                        len(self._buffer),
                        delay_s,
                    )
                    await asyncio.sleep(delay_s)
                    continue
                backoff.reset()
                self.healthy = True
                continue
            if self._closing:
                with contextlib.suppress(RedisError):
                    await self._sequencer.mark_shard(self._epoch, clean=1)
                return
            self._wakeup.clear()
            await self._wakeup.wait()

    def close(self) -> None:
        """Ask `run` to write what is queued and record a clean stop; await the `run` task to wait."""
        self._closing = True
        self._wakeup.set()

    async def quiescent_point(self, timeout_s: float = 2.0) -> LogPoint:
        """The log position that every entry issued so far has reached, at a moment nothing waits.

        Taken without yielding to the event loop afterwards, a snapshot of the shard's detectors then
        reflects exactly its events up to that position.

        Raises:
            DependencyUnavailableError: Entries kept waiting for `timeout_s` (Redis is slow or down).
        """
        async with asyncio.timeout(timeout_s):
            while self._buffer:
                self._written.clear()
                await self._written.wait()
        return LogPoint(self._epoch, self._last_seq)

    async def _write_batch(self) -> None:
        batch = [self._buffer[i] for i in range(min(len(self._buffer), self._config.batch_size))]
        # What a restart needs: how many of a replay's entries are stored; else the last ordinal.
        replayable = sum(entry.seq in self._replayable for entry in batch) if self._replays_history else 0
        last_ordinal = self._replayable_appended + replayable if self._replays_history else batch[-1].seq
        outcome = await self._sequencer.append(
            self._epoch,
            [(entry.encoded, pack_fields(entry)) for entry in batch],
            last_ordinal=last_ordinal,
            max_entries=self._config.max_entries,
            trim_seq=self._age_trim.trim_seq(),
        )
        if outcome.status == "OK":
            for entry in batch:
                self._buffer.popleft()
                self._replayable.discard(entry.seq)
            self._replayable_appended += replayable
            self._appended = batch[-1].seq
            self._last_seq = int(outcome.value)
            self.appended += len(batch)
            self._age_trim.note(self._last_seq)
            self._written.set()
        elif outcome.status == "RESERVE":
            await self._raise_reservation(int(outcome.value))
        elif outcome.status == "RESTARTED":
            await self._recover()
        else:
            raise DependencyUnavailableError(
                f"the event log's epoch changed from {self._epoch} to {outcome.value!r} under this shard"
            )

    async def _raise_reservation(self, seq: int) -> None:
        reserved = seq + self._config.reserve_block
        # PostgreSQL first: a Redis that loses this write cannot lose the reservation.
        if self._marks is not None:
            await self._marks.advance(self._key_prefix, self._epoch, reserved=reserved, stored=seq)
        await self._sequencer.reserve(self._epoch, reserved)

    async def _recover(self) -> None:
        mark = None if self._marks is None else await self._marks.get(self._key_prefix, self._epoch)
        floor = 0 if mark is None else mark.reserved
        await self._skip(floor=floor, count=0, recover=True)
        appended = self._replayable_appended if self._replays_history else self._appended
        await self._sequencer.mark_shard(self._epoch, appended=appended, reserved=self._reserved)
        _logger.warning(
            "Redis restarted under the event log: it continues after seq %d, the durable reservation; "
            "what Redis lost is reported as a gap",
            floor,
        )

    def metric_samples(self) -> list[MetricSample]:
        """Entries written, left out, waiting and the seqs skipped, and failed writes."""
        return [
            counter(
                "tickstock_event_store_appended", "Log entries written to the Redis Stream.", self.appended
            ),
            counter(
                "tickstock_event_store_suppressed",
                "Entries a restarted replay shard regenerated and left out: the stream had them.",
                self.suppressed,
            ),
            counter(
                "tickstock_event_store_skipped_seqs",
                "Seqs skipped after a shard's crash or a Redis restart, reported as a gap.",
                self.skipped_seqs,
            ),
            counter("tickstock_event_store_failures", "Failed Redis Stream writes.", self.failures),
            gauge("tickstock_event_store_pending", "Log entries waiting to be written.", len(self._buffer)),
        ]
