"""Questions a gateway asks the ingest process about state only it holds, over Redis lists.

The detectors' per-symbol state (stream snapshots) and the bars not yet stored (the writer's buffer and
the open minute, for `GetBars`) live in the ingest process. A gateway asks for them when a client needs
them, rather than the ingest publishing thousands of symbols every second: a snapshot is exact (taken in
one event-loop step, with the log position it reflects) and costs the ingest nothing while nobody asks.

- ``{prefix}queries``: a list of requests (msgpack), bounded to `max_waiting`: at the bound the oldest
  waiting requests are dropped, and their callers time out with UNAVAILABLE. Each carries a deadline;
  the ingest skips requests whose caller has given up. With several ingest shards (the ``shards`` field
  of the log's meta hash), each has its own list, ``{prefix}queries:{index}``: a gateway asks the shard
  of a symbol for its bars, and every shard holding a wanted symbol for a snapshot, merging the parts.
- ``{prefix}reply:{id}``: the one reply, which expires after `reply_ttl_s` if nobody takes it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, cast

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tickstock_server.bus.event_stream import meta_key
from tickstock_server.domain.bar import Bar
from tickstock_server.domain.events import Direction, MarketStatus
from tickstock_server.domain.shards import Shard, shard_of
from tickstock_server.domain.snapshot import SymbolSnapshot
from tickstock_server.errors import DependencyUnavailableError
from tickstock_server.ports.events import LogPoint, SnapshotView
from tickstock_server.support.log_limiter import LogLimiter
from tickstock_server.support.metric_samples import MetricSample, counter
from tickstock_server.support.time_units import NS_PER_S

_logger = logging.getLogger(__name__)

_SnapshotRow = tuple[str, float, int, float | None, float | None, str | None, float, str | None, str]
_BarRow = tuple[str, int, float, float, float, float, int, int]


class _Request(msgspec.Struct, frozen=True):
    id: str
    kind: Literal["snapshot", "bars"]
    deadline_ns: int
    symbols: list[str] | None = None


class _SnapshotReply(msgspec.Struct, frozen=True):
    epoch: str
    seq: int
    rows: list[_SnapshotRow]


class _BarsReply(msgspec.Struct, frozen=True):
    rows: list[_BarRow]


_encoder = msgspec.msgpack.Encoder()
_request_decoder = msgspec.msgpack.Decoder(_Request)
_snapshot_decoder = msgspec.msgpack.Decoder(_SnapshotReply)
_bars_decoder = msgspec.msgpack.Decoder(_BarsReply)


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestQueriesConfig:
    """Keys and bounds of the queries."""

    key_prefix: str = "tickstock:ingest:"
    timeout_s: float = 2.0
    """How long a gateway waits for a reply."""
    max_waiting: int = 1000
    """Requests waiting for the ingest; beyond it the oldest are dropped (their callers time out)."""
    reply_ttl_s: int = 10
    """A reply nobody took is deleted after this."""


def queue_key(key_prefix: str, shard: Shard) -> str:
    """The list of requests to `shard`."""
    return key_prefix + ("queries" if shard.count == 1 else f"queries:{shard.index}")


class RedisIngestQueries:
    """The gateway's side: a `SnapshotSource` and the pending bars of a symbol, asked of the ingest."""

    def __init__(self, client: aioredis.Redis, config: IngestQueriesConfig | None = None) -> None:
        self._client = client
        self._config = config if config is not None else IngestQueriesConfig()
        self._meta = meta_key(self._config.key_prefix)

    async def snapshot(self, symbols: Iterable[str] | None = None) -> SnapshotView:
        """The detectors' state of `symbols` (all when None) as of the ingest's log position."""
        wanted = None if symbols is None else sorted(set(symbols))
        count = await self._shard_count()
        if count == 1:
            reply = _snapshot_decoder.decode(await self._ask(Shard(), "snapshot", wanted))
            return SnapshotView([_snapshot(row) for row in reply.rows], LogPoint(reply.epoch, reply.seq))
        parts: dict[int, list[str] | None] = dict.fromkeys(range(count))
        if wanted is not None:
            parts = {}
            for symbol in wanted:
                part = parts.setdefault(shard_of(symbol, count), [])
                assert part is not None
                part.append(symbol)
        asked = await asyncio.gather(
            *(self._ask(Shard(index, count), "snapshot", part) for index, part in parts.items())
        )
        replies = dict(zip(parts, (_snapshot_decoder.decode(raw) for raw in asked), strict=True))
        if len({reply.epoch for reply in replies.values()}) > 1:
            raise DependencyUnavailableError("the ingest shards answered from different epochs; retry")
        first = next(iter(replies.values()))
        rows = sorted((_snapshot(row) for reply in replies.values() for row in reply.rows), key=_by_symbol)
        seqs = tuple(replies[index].seq if index in replies else 0 for index in range(count))
        point = LogPoint(first.epoch, min(reply.seq for reply in replies.values()))
        return SnapshotView(rows, point, seqs)

    async def pending_bars(self, symbol: str) -> list[Bar]:
        """The symbol's one-minute bars not stored yet (the writer's buffer, then the open minute)."""
        count = await self._shard_count()
        reply = _bars_decoder.decode(await self._ask(Shard(shard_of(symbol, count), count), "bars", [symbol]))
        return [_bar(row) for row in reply.rows]

    async def _shard_count(self) -> int:
        try:
            raw = await self._client.hget(self._meta, "shards")
        except RedisError as exc:
            raise DependencyUnavailableError("Redis is unreachable: cannot ask the ingest") from exc
        return 1 if raw is None else int(raw)

    async def _ask(self, shard: Shard, kind: Literal["snapshot", "bars"], symbols: list[str] | None) -> bytes:
        config = self._config
        request = _Request(
            id=secrets.token_hex(8),
            kind=kind,
            deadline_ns=time.time_ns() + round(config.timeout_s * NS_PER_S),
            symbols=symbols,
        )
        reply_key = f"{config.key_prefix}reply:{request.id}"
        try:
            queue = queue_key(config.key_prefix, shard)
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.lpush(queue, _encoder.encode(request))
                pipe.ltrim(queue, 0, config.max_waiting - 1)
                await pipe.execute()
            reply = await self._client.blpop([reply_key], timeout=config.timeout_s)
        except RedisError as exc:
            raise DependencyUnavailableError(
                f"Redis is unreachable: cannot ask the ingest for {kind}"
            ) from exc
        if reply is None:
            raise DependencyUnavailableError(f"the ingest process did not answer a {kind} request in time")
        return cast(bytes, reply[1])


SnapshotTaker = Callable[[list[str] | None], Awaitable[tuple[LogPoint, list[SymbolSnapshot]]]]
"""Takes the detectors' state of the symbols (all when None) and the log position it reflects, in one
event-loop step."""


class IngestQueryServer:
    """The ingest's side: answers the gateways' questions until cancelled."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        snapshot: SnapshotTaker,
        pending_bars: Callable[[str], Sequence[Bar]],
        config: IngestQueriesConfig | None = None,
        shard: Shard | None = None,
    ) -> None:
        """Answer the requests to `shard` (the only one when None)."""
        self._client = client
        self._config = config if config is not None else IngestQueriesConfig()
        self._queue = queue_key(self._config.key_prefix, shard or Shard())
        self._snapshot = snapshot
        self._pending_bars = pending_bars
        self._log_limiter = LogLimiter(60.0, time.time_ns)
        self.answered = 0
        """Requests answered."""
        self.expired = 0
        """Requests skipped because their caller had given up."""
        self.rejected = 0
        """Requests that could not be decoded."""

    async def run(self) -> None:
        """Answer requests until cancelled (raises RedisError when Redis fails: the caller restarts it)."""
        while True:
            popped = await self._client.brpop([self._queue], timeout=1)
            if popped is None:
                continue
            reply = await self._answer(cast(bytes, popped[1]))
            if reply is None:
                continue
            key, payload = reply
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.rpush(key, payload)
                pipe.expire(key, self._config.reply_ttl_s)
                await pipe.execute()
            self.answered += 1

    async def run_forever(self) -> None:
        """`run`, restarted after a Redis failure (logged) until cancelled."""
        while True:
            try:
                await self.run()
            except RedisError as exc:
                _logger.warning("ingest queries: Redis failed (%s); retrying in 1 s", type(exc).__name__)
                await asyncio.sleep(1.0)

    def metric_samples(self) -> list[MetricSample]:
        """Requests answered, expired and rejected."""
        name, text = "tickstock_ingest_queries", "Gateway questions to the ingest process, by outcome."
        return [
            counter(name, text, self.answered, outcome="answered"),
            counter(name, text, self.expired, outcome="expired"),
            counter(name, text, self.rejected, outcome="rejected"),
        ]

    async def _answer(self, raw: bytes) -> tuple[str, bytes] | None:
        try:
            request = _request_decoder.decode(raw)
        except msgspec.DecodeError as exc:
            self.rejected += 1
            if self._log_limiter.allow("decode"):
                _logger.warning("ingest queries: rejected an undecodable request (%s)", exc)
            return None
        if request.deadline_ns < time.time_ns():
            self.expired += 1
            return None
        key = f"{self._config.key_prefix}reply:{request.id}"
        if request.kind == "snapshot":
            point, symbols = await self._snapshot(request.symbols)
            return key, _encoder.encode(
                _SnapshotReply(point.epoch, point.seq, [_snapshot_row(s) for s in symbols])
            )
        bars = [bar for symbol in request.symbols or () for bar in self._pending_bars(symbol)]
        return key, _encoder.encode(_BarsReply([_bar_row(bar) for bar in bars]))


def _by_symbol(snapshot: SymbolSnapshot) -> str:
    return snapshot.symbol


def _snapshot_row(s: SymbolSnapshot) -> _SnapshotRow:
    return (
        s.symbol,
        s.last_price,
        s.last_tick_ns,
        s.session_high,
        s.session_low,
        None if s.trend_direction is None else s.trend_direction.value,
        s.trend_score,
        None if s.surge_direction is None else s.surge_direction.value,
        s.market_status.value,
    )


def _snapshot(row: _SnapshotRow) -> SymbolSnapshot:
    symbol, price, tick_ns, high, low, trend, score, surge, status = row
    return SymbolSnapshot(
        symbol=symbol,
        last_price=price,
        last_tick_ns=tick_ns,
        session_high=high,
        session_low=low,
        trend_direction=None if trend is None else Direction(trend),
        trend_score=score,
        surge_direction=None if surge is None else Direction(surge),
        market_status=MarketStatus(status),
    )


def _bar_row(bar: Bar) -> _BarRow:
    return (bar.symbol, bar.start_ns, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.ticks)


def _bar(row: _BarRow) -> Bar:
    symbol, start_ns, open_, high, low, close, volume, ticks = row
    return Bar(
        symbol=symbol,
        start_ns=start_ns,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        ticks=ticks,
    )
