"""Reads the event log's history from Redis: entries by seq, the oldest kept, and the seqs restarts skipped.

Keys (under the event log's prefix; `bus/event_stream.py` describes the stream and the meta hash):

- ``{prefix}stream:{epoch}``: the entries, with ids ``<seq>-0`` and fields ``e`` (the encoded event)
  and ``f`` (the packed filter fields).
- ``{prefix}skipped:{epoch}``: a sorted set of the ranges a writer skipped when it restarted after a
  crash (member ``<from>-<to>``, score ``<to>``): the crashed writer had reserved them and none is
  stored. Replay reports them as NOT_PERSISTED with an upper-bound count, since some were never issued.
  It holds the newest `SKIPPED_CAPACITY` ranges (one per crash) and goes with its epoch's stream; ranges
  the stream has trimmed past stay, so an aged-out gap is still split at them.
"""

from __future__ import annotations

from typing import cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tickstock_server.domain.events import Direction, EventType
from tickstock_server.domain.log_entry import EventFields, LogEntry
from tickstock_server.errors import DependencyUnavailableError
from tickstock_server.ports.events import SkippedRange

SKIPPED_CAPACITY = 1000
"""Skipped ranges kept per epoch: one per restart after a crash."""

_SEP = "\x1f"
StreamRows = list[tuple[bytes, dict[bytes, bytes]]]


def stream_key(key_prefix: str, epoch: str) -> str:
    """The Redis Stream of one epoch of the log."""
    return f"{key_prefix}stream:{epoch}"


def skipped_key(key_prefix: str, epoch: str) -> str:
    """The sorted set of the ranges restarts skipped in one epoch of the log."""
    return f"{key_prefix}skipped:{epoch}"


def pack_fields(entry: LogEntry) -> str:
    """The ``f`` field of an entry's stream row."""
    f = entry.fields
    return _SEP.join(
        (
            f.symbol,
            f.type,
            f.direction,
            repr(f.price),
            str(f.volume),
            repr(f.score),
            str(entry.ingest_ts_ns),
        )
    )


def unpack_rows(rows: StreamRows) -> list[LogEntry]:
    """Log entries from stream rows (``XRANGE``/``XREAD`` results)."""
    return [_unpack(_seq(row_id), row[b"f"], row[b"e"]) for row_id, row in rows]


def _seq(row_id: bytes) -> int:
    return int(row_id.split(b"-")[0])


def _skipped_range(member: bytes) -> SkippedRange:
    from_seq, to_seq = member.split(b"-")
    return SkippedRange(int(from_seq), int(to_seq))


def _unpack(seq: int, packed: bytes, encoded: bytes) -> LogEntry:
    symbol, event_type, direction, price, volume, score, ingest = packed.decode().split(_SEP)
    fields = EventFields(
        symbol,
        EventType(event_type).value,
        Direction(direction).value,
        float(price),
        int(volume),
        float(score),
    )
    return LogEntry(seq, fields, int(ingest), encoded)


async def record_skipped(
    client: aioredis.Redis, key_prefix: str, epoch: str, from_seq: int, to_seq: int
) -> None:
    """Record that a restart skipped `from_seq..to_seq` of `epoch`; keeps the newest ranges."""
    key = skipped_key(key_prefix, epoch)
    async with client.pipeline(transaction=True) as pipe:
        pipe.zadd(key, {f"{from_seq}-{to_seq}": to_seq})
        pipe.zremrangebyrank(key, 0, -SKIPPED_CAPACITY - 1)
        await pipe.execute()


class RedisStreamHistory:
    """`EventHistory` of the log's current epoch under one key prefix (see the module docstring)."""

    def __init__(self, client: aioredis.Redis, key_prefix: str) -> None:
        """Read through `client`; the epoch is set by `_use_epoch` before the first read."""
        self._client = client
        self._key_prefix = key_prefix
        self._epoch = ""
        self._stream = ""

    def _use_epoch(self, epoch: str) -> None:
        self._epoch = epoch
        self._stream = stream_key(self._key_prefix, epoch)

    async def read(self, after_seq: int, until_seq: int, limit: int) -> list[LogEntry]:
        """Up to `limit` stored entries with `after_seq < seq <= until_seq`, in order (may have holes)."""
        if until_seq <= after_seq:
            return []
        try:
            raw = await self._client.xrange(self._stream, f"{after_seq + 1}-0", f"{until_seq}-0", count=limit)
        except RedisError as exc:
            raise DependencyUnavailableError("Redis is unreachable: cannot replay older events") from exc
        return unpack_rows(cast(StreamRows, raw))

    async def oldest_seq(self) -> int | None:
        """The seq of the oldest stored entry, None when the stream is empty."""
        try:
            rows = cast(StreamRows, await self._client.xrange(self._stream, count=1))
        except RedisError as exc:
            raise DependencyUnavailableError("Redis is unreachable: cannot replay older events") from exc
        return _seq(rows[0][0]) if rows else None

    async def skipped_ranges(self, from_seq: int, to_seq: int) -> list[SkippedRange]:
        """The ranges restarts skipped that overlap `from_seq..to_seq`, in seq order."""
        try:
            raw = await self._client.zrangebyscore(
                skipped_key(self._key_prefix, self._epoch), from_seq, "+inf"
            )
        except RedisError as exc:
            raise DependencyUnavailableError("Redis is unreachable: cannot replay older events") from exc
        ranges = [_skipped_range(member) for member in cast(list[bytes], raw)]
        return sorted((r for r in ranges if r.from_seq <= to_seq), key=lambda r: r.from_seq)

    async def _last_stored_seq(self) -> int:
        rows = cast(StreamRows, await self._client.xrevrange(self._stream, count=1))
        return _seq(rows[0][0]) if rows else 0
