"""One total order for the events of several ingest shards: Redis assigns the seqs, in Lua scripts.

Each shard detects the events of its own symbols and numbers them itself (its local ordinals, from 1 at
each start). The scripts below append a shard's batch to the one Redis Stream of the log, giving its
entries the next seqs of the log in one atomic step, so every gateway sees one order. Keys, under the
log's prefix (`bus/event_stream.py` describes the stream and the meta hash of a single writer):

- ``{prefix}meta``: ``epoch``; ``seq``, the last seq assigned; ``reserved``, the highest seq the
  scripts may assign before a shard raises it (in PostgreSQL first, so a Redis that loses data cannot
  lose it); ``incarnation``, the run id of the Redis server that assigned the last seq; ``shards``, the
  number of shards.
- ``{prefix}shard:{index}``: per shard, ``epoch``, ``appended`` (the last local ordinal in the stream),
  ``reserved`` (the highest ordinal the shard may have detected: it raises it before detecting more) and
  ``clean`` (1 after a clean stop).

A Redis restart changes its run id. A script that finds another incarnation than its own refuses to
append until a shard has recovered the log: the seqs up to the durable reservation may have reached
clients before Redis lost them, so the log skips to it, and the skipped range is recorded as in
`bus/stream_history.py` (NOT_PERSISTED, an upper-bound count). A seq therefore never names two events.

An encoded event begins with its seq (protobuf field 1, a varint): the append script replaces the
shard's ordinal there by the log's seq, which gives the bytes the single writer would have encoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis

from tickstock_server.bus.stream_history import SKIPPED_CAPACITY, skipped_key, stream_key

_RUN_ID = "string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')"

# KEYS: meta, shard. ARGV: a new epoch (used when the log has none, or one of another shard count),
# the shard count, the shard index.
_OPEN = f"""
local meta, shard = KEYS[1], KEYS[2]
local m = redis.call('HMGET', meta, 'epoch', 'shards')
local previous, created = m[1] or '', 0
if not m[1] or m[2] ~= ARGV[2] then
  redis.call('DEL', meta)
  redis.call('HSET', meta, 'epoch', ARGV[1], 'seq', 0, 'reserved', 0, 'shards', ARGV[2],
    'incarnation', {_RUN_ID})
  created = 1
end
local s = redis.call('HMGET', shard, 'epoch', 'appended', 'reserved', 'clean')
return {{redis.call('HGET', meta, 'epoch'), created, previous, s[1] or '', s[2] or '0', s[3] or '0',
  s[4] or '0'}}
"""

# KEYS: meta, stream, shard. ARGV: epoch, MAXLEN, MINID to trim to (0: none), the shard's last ordinal
# after this batch, then each entry's encoding and packed fields.
_APPEND = f"""
local meta, stream, shard = KEYS[1], KEYS[2], KEYS[3]
local m = redis.call('HMGET', meta, 'epoch', 'seq', 'reserved', 'incarnation')
if m[1] ~= ARGV[1] then return {{'EPOCH', m[1] or ''}} end
if m[4] ~= {_RUN_ID} then return {{'RESTARTED', m[2]}} end
local seq = tonumber(m[2])
local count = (#ARGV - 4) / 2
if seq + count > tonumber(m[3]) then return {{'RESERVE', m[2]}} end
for i = 0, count - 1 do
  local e = ARGV[5 + 2 * i]
  if string.byte(e, 1) ~= 8 then return redis.error_reply('an entry does not begin with its seq') end
  local at = 2
  while string.byte(e, at) >= 128 do at = at + 1 end
  seq = seq + 1
  local v, head = seq, {{8}}
  while v >= 128 do
    head[#head + 1] = v % 128 + 128
    v = math.floor(v / 128)
  end
  head[#head + 1] = v
  redis.call('XADD', stream, 'MAXLEN', '~', ARGV[2], string.format('%d-0', seq),
    'e', string.char(unpack(head)) .. string.sub(e, at + 1), 'f', ARGV[6 + 2 * i])
end
redis.call('HSET', meta, 'seq', string.format('%d', seq))
redis.call('HSET', shard, 'appended', ARGV[4])
if ARGV[3] ~= '0' then redis.call('XTRIM', stream, 'MINID', '~', ARGV[3] .. '-0') end
return {{'OK', string.format('%d', seq)}}
"""

# KEYS: meta, skipped. ARGV: epoch, a floor, a count, 1 to recover a restarted Redis (0 otherwise).
# The log's seq becomes max(seq, floor) + count; the seqs passed over are recorded as skipped, and "OK"
# carries how many. A recovery that another shard already made (the incarnation is current) skips none.
_SKIP = f"""
local meta, skipped = KEYS[1], KEYS[2]
local m = redis.call('HMGET', meta, 'epoch', 'seq', 'reserved', 'incarnation')
if m[1] ~= ARGV[1] then return {{'EPOCH', m[1] or ''}} end
local run_id = {_RUN_ID}
if ARGV[4] == '1' and m[4] == run_id then return {{'OK', '0'}} end
local seq = tonumber(m[2])
local target = math.max(seq, tonumber(ARGV[2])) + tonumber(ARGV[3])
if target > seq then
  redis.call('ZADD', skipped, target, string.format('%d-%d', seq + 1, target))
  redis.call('ZREMRANGEBYRANK', skipped, 0, -{SKIPPED_CAPACITY + 1})
  redis.call('HSET', meta, 'seq', string.format('%d', target))
end
if target > tonumber(m[3]) then redis.call('HSET', meta, 'reserved', string.format('%d', target)) end
if ARGV[4] == '1' then redis.call('HSET', meta, 'incarnation', run_id) end
return {{'OK', string.format('%d', target - seq)}}
"""

# KEYS: meta. ARGV: epoch, the new reservation (kept when lower than the current one).
_RESERVE = """
local m = redis.call('HMGET', KEYS[1], 'epoch', 'reserved')
if m[1] ~= ARGV[1] then return {'EPOCH', m[1] or ''} end
if tonumber(ARGV[2]) > tonumber(m[2]) then redis.call('HSET', KEYS[1], 'reserved', ARGV[2]) end
return {'OK', m[2]}
"""


@dataclass(frozen=True, slots=True)
class ShardRecord:
    """What the log holds about one shard when it opens."""

    epoch: str
    """The log's epoch."""
    created: bool
    """This open started the epoch (the log had none, or one of another shard count)."""
    previous_epoch: str
    """The epoch the log had before (its stream is to be deleted), "" for none or when not created."""
    shard_epoch: str
    """The epoch the shard last appended to, "" for none."""
    appended: int
    """The shard's last ordinal in the stream."""
    reserved: int
    """The highest ordinal the shard may have detected."""
    clean: bool
    """The shard stopped cleanly."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """A script's answer: "OK" with the log's seq after it, or why it refused."""

    status: str
    """OK; EPOCH (the log has another epoch, in `value`); RESTARTED (Redis restarted: recover first);
    RESERVE (the reservation is used up: raise it)."""
    value: str


class ShardSequencer:
    """The scripts for one shard of one log (see the module docstring)."""

    def __init__(self, client: aioredis.Redis, key_prefix: str, index: int, count: int) -> None:
        """Run the scripts through `client` for shard `index` of `count` under `key_prefix`."""
        self._client = client
        self._prefix = key_prefix
        self._meta = key_prefix + "meta"
        self.shard_key = f"{key_prefix}shard:{index}"
        self._index = index
        self._count = count
        self._open = client.register_script(_OPEN)
        self._append = client.register_script(_APPEND)
        self._skip = client.register_script(_SKIP)
        self._reserve = client.register_script(_RESERVE)

    async def open(self, new_epoch: str) -> ShardRecord:
        """The log's epoch (`new_epoch` if it had none) and this shard's record in it."""
        raw = await self._open(keys=[self._meta, self.shard_key], args=[new_epoch, self._count, self._index])
        epoch, created, previous, shard_epoch, appended, reserved, clean = (
            item.decode() if isinstance(item, bytes) else str(item) for item in raw
        )
        return ShardRecord(
            epoch, created == "1", previous, shard_epoch, int(appended), int(reserved), clean == "1"
        )

    async def append(
        self,
        epoch: str,
        entries: list[tuple[bytes, str]],
        *,
        last_ordinal: int,
        max_entries: int,
        trim_seq: int,
    ) -> Outcome:
        """Append encoded entries with their packed fields; "OK" carries the last seq they got."""
        args: list[bytes | str | int] = [epoch, max_entries, trim_seq, last_ordinal]
        for encoded, fields in entries:
            args += (encoded, fields)
        keys = [self._meta, stream_key(self._prefix, epoch), self.shard_key]
        return _outcome(await self._append(keys=keys, args=args))

    async def skip(self, epoch: str, *, floor: int, count: int, recover: bool) -> Outcome:
        """Move the log's seq to max(seq, floor) + count, recording the skipped range.

        "OK" carries how many seqs were skipped.
        """
        keys = [self._meta, skipped_key(self._prefix, epoch)]
        return _outcome(await self._skip(keys=keys, args=[epoch, floor, count, int(recover)]))

    async def reserve(self, epoch: str, reserved: int) -> Outcome:
        """Let the scripts assign seqs up to `reserved` (recorded durably by the caller first)."""
        return _outcome(await self._reserve(keys=[self._meta], args=[epoch, reserved]))

    async def mark_shard(self, epoch: str, **fields: int) -> None:
        """Set fields of this shard's record (and its epoch)."""
        mapping: dict[str, str | int] = {"epoch": epoch, **fields}
        await self._client.hset(self.shard_key, mapping=mapping)  # type: ignore[arg-type]


def _outcome(raw: object) -> Outcome:
    status, value = cast(list[bytes], raw)
    return Outcome(status.decode(), value.decode())
