"""A gateway's view of the event log, followed from Redis.

It follows the Redis Stream the ingest process writes (see `bus/event_stream.py` for the layout) into
the gateway's own ring and hub, and reads its history for replays.

`run` loops over one pipelined round trip: a blocking ``XREAD`` of the current epoch's stream after the
last seq it has, then ``HGET`` of the epoch. The entries go to the log (`EventLog.adopt`) and the hub
together, so a stream's replay and live parts meet without a hole or a duplicate, exactly as in the
all-in-one server. A read of a catching-up gateway (up to 2,000 entries) is taken in steps of
`STEP_ENTRIES`, yielding to the streams in between, so one read never holds the event loop for long.

Two things end every open stream with a rotation hint
(`EndReason.LOG_RESTARTED`), so clients resume and are told precisely what is missing:

- the epoch changed (the ingest started the history again): the log follows the new epoch from its
  start, and a resume from the old epoch gets EPOCH_CHANGED;
- a hole in the seqs (the ingest crashed after handing out seqs it never wrote): the resume reports the
  hole as a gap, read from the same Redis keys and with the same reasons and counts as the ingest's own
  replays (`bus/stream_history.py`): seqs the ingest skipped when it restarted come with an upper-bound
  count.

Only what reached the stream is ever delivered, so a client never holds a seq that a crash could
reuse or lose silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tickstock_server.bus.event_stream import meta_key
from tickstock_server.bus.stream_history import RedisStreamHistory, StreamRows, unpack_rows
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.hub import EndReason, SubscriptionHub
from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.support.backoff import Backoff
from tickstock_server.support.cancellation import raise_if_cancelling
from tickstock_server.support.metric_samples import MetricSample, counter, gauge

_logger = logging.getLogger(__name__)

STEP_ENTRIES = 200
"""Entries unpacked and published in one event-loop step: with 1,000 streams about 2-4 ms of work."""

_RETRY_INITIAL_S = 0.1
_RETRY_MAX_S = 5.0


class RedisEventFollower(RedisStreamHistory):
    """Follows the event stream into a log and a hub, and (its `EventHistory`) serves older replays."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        key_prefix: str,
        block_ms: int = 1000,
        batch: int = 2000,
        epoch_poll_s: float = 0.5,
    ) -> None:
        """Follow the stream under `key_prefix`.

        Args:
            client: A Redis client for history reads and the epoch. The blocking reads use a
                connection of their own from the same pool.
            key_prefix: The event stream's key prefix (the ingest's `stream_key_prefix`).
            block_ms: Longest wait of one blocking read; the epoch is checked at least this often.
            batch: Most entries taken per read.
            epoch_poll_s: Interval of the wait for a first epoch when the ingest has not started yet.
        """
        super().__init__(client, key_prefix)
        self._meta = meta_key(key_prefix)
        self._block_ms = block_ms
        self._batch = batch
        self._epoch_poll_s = epoch_poll_s
        self.followed = 0
        """Entries taken from the stream."""
        self.reads = 0
        """Reads of the stream that returned entries: each is published to the streams in one step (up to
        `STEP_ENTRIES` entries), so their rate bounds how often one stream is sent a batch."""
        self.restarts = 0
        """Times the log restarted (a new epoch or a hole) and every stream was asked to resume."""
        self.full_reads = 0
        """Reads that returned a whole batch: the gateway was behind and caught up in several steps."""
        self.healthy = True
        """False while Redis is unreachable."""

    async def open(self) -> tuple[str, int]:
        """Wait for the log's epoch and return it with the stream's last seq: where following starts."""
        waiting_logged = False
        while True:
            try:
                raw = cast(bytes | None, await self._client.hget(self._meta, "epoch"))
                if raw is not None:
                    epoch = raw.decode()
                    self._use_epoch(epoch)
                    return epoch, await self._last_stored_seq()
            except RedisError as exc:
                _logger.warning("cannot read the event stream yet (%s); retrying", type(exc).__name__)
            if not waiting_logged:
                _logger.info("waiting for the ingest process to start the event stream")
                waiting_logged = True
            await asyncio.sleep(self._epoch_poll_s)

    async def run(
        self,
        log: EventLog,
        hub: SubscriptionHub,
        taken: Callable[[Sequence[LogEntry]], None] | None = None,
    ) -> None:
        """Follow the stream into `log` and `hub` until cancelled; retry while Redis is unreachable.

        `taken`, if given, sees each run of entries right after the hub (the gateway's pattern cache
        takes the fallback patterns from it), in the same step.
        """
        backoff = Backoff(_RETRY_INITIAL_S, _RETRY_MAX_S)
        while True:
            try:
                rows, epoch = await self._read(log.last_seq)
            except RedisError as exc:
                raise_if_cancelling()  # redis-py may turn our cancellation into a connection error
                self.healthy = False
                delay_s = backoff.next_delay_s()
                _logger.warning(
                    "cannot follow the event stream (%s); retrying in %.1f s", type(exc).__name__, delay_s
                )
                await asyncio.sleep(delay_s)
                continue
            raise_if_cancelling()
            backoff.reset()
            self.healthy = True
            if epoch is not None and epoch != log.epoch:
                # The rows (if any) belong to the old epoch, which is gone: restart from the new one.
                self._restart(log, hub, epoch, f"the event log started epoch {epoch}")
                continue
            for start in range(0, len(rows), STEP_ENTRIES):
                if start:
                    await asyncio.sleep(0)  # the streams write what the last step queued
                entries = unpack_rows(rows[start : start + STEP_ENTRIES])
                if entries:
                    self._take(log, hub, entries, taken)

    def metric_samples(self) -> list[MetricSample]:
        """Entries followed, log restarts, and whether the last read left entries behind."""
        return [
            counter("tickstock_follower_entries", "Log entries taken from the event stream.", self.followed),
            counter(
                "tickstock_follower_reads", "Reads of the event stream that returned entries.", self.reads
            ),
            counter(
                "tickstock_follower_restarts",
                "Times the followed log restarted (new epoch or hole) and every stream was asked to resume.",
                self.restarts,
            ),
            counter(
                "tickstock_follower_full_reads",
                "Reads of the event stream that returned a whole batch (the gateway was catching up).",
                self.full_reads,
            ),
            gauge("tickstock_follower_healthy", "1 while the event stream can be read.", int(self.healthy)),
        ]

    async def _read(self, after_seq: int) -> tuple[StreamRows, str | None]:
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xread({self._stream: f"{after_seq}-0"}, count=self._batch, block=self._block_ms)
            pipe.hget(self._meta, "epoch")
            result, epoch = await pipe.execute()
        rows: StreamRows = result[0][1] if result else []
        self.reads += bool(rows)
        self.full_reads += len(rows) == self._batch
        return rows, None if epoch is None else epoch.decode()

    def _take(
        self,
        log: EventLog,
        hub: SubscriptionHub,
        entries: list[LogEntry],
        taken: Callable[[Sequence[LogEntry]], None] | None,
    ) -> None:
        # Published in contiguous runs: every open stream ends before the first entry after a hole, so
        # no live stream skips seqs silently (their resume reports the hole as a gap).
        start = 0
        for index in range(1, len(entries) + 1):
            if index == len(entries) or entries[index].seq != entries[index - 1].seq + 1:
                run = entries[start:index]
                if run[0].seq != log.last_seq + 1:
                    self._restart_streams(
                        hub, f"seqs {log.last_seq + 1}..{run[0].seq - 1} are missing from the event stream"
                    )
                log.adopt(run)
                hub.publish(run)
                if taken is not None:
                    taken(run)
                start = index
        self.followed += len(entries)

    def _restart(self, log: EventLog, hub: SubscriptionHub, epoch: str, why: str) -> None:
        self._restart_streams(hub, why)
        self._use_epoch(epoch)
        log.restart(epoch, 0)

    def _restart_streams(self, hub: SubscriptionHub, why: str) -> None:
        self.restarts += 1
        _logger.warning("%s: every open stream is asked to resume", why)
        hub.end_all(EndReason.LOG_RESTARTED)
