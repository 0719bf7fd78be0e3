"""How fast the event log takes appends: one writer's pipelined XADD against shards' Lua appends.

Usage: .venv/bin/python bench/shard_append.py [--events 200000] [--shards 1,2,4] [--batch 500]
       [--redis-url URL]

Without `--redis-url` an embedded Redis runs in a temporary directory (with its append-only file, as
`./scripts/run` runs it). Each run writes `--events` real encoded events (about 150 bytes) under a
fresh key prefix, as fast as the writers take them:

- ``single``: one `RedisEventStore` (the one ingest process), MULTI/EXEC batches of `--batch` XADDs;
- ``shards_N``: N `ShardEventStore`s in this process, each appending its share in Lua batches of
  `--batch`, all into one stream and one order.

Prints `name: value unit` lines: events per second for each, and the Redis server's CPU seconds per
100,000 events (its `used_cpu_sys + used_cpu_user`), which bounds what one Redis core can take.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
import uuid
from pathlib import Path

import redis.asyncio as aioredis

from tickstock_server.api.mappers.events import encode_event
from tickstock_server.bus.event_stream import EventStoreConfig, RedisEventStore
from tickstock_server.bus.shard_store import ShardEventStore
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.domain.events import Event
from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.domain.shards import Shard
from tickstock_server.embedded import EmbeddedRedis
from tickstock_server.simulation.market import SyntheticMarket, SyntheticMarketConfig

_DISTINCT_EVENTS = 500


def _entries(count: int) -> list[LogEntry]:
    """`count` real events, sequenced: the detectors' first 500 on the seeded synthetic market, cycled."""
    market = SyntheticMarket(1, SyntheticMarketConfig(symbols=400))
    engine = DetectionEngine()
    events: list[Event] = []
    ts_ns = 1_767_711_600_000_000_000
    while len(events) < _DISTINCT_EVENTS:
        ts_ns += 50_000_000
        events += engine.process_batch(market.next_ticks(400, ts_ns))
    log = EventLog(encode_event, capacity=1)
    cycled = [events[i % _DISTINCT_EVENTS] for i in range(count)]
    return log.append(cycled, ingest_ts_ns=ts_ns, detect_ts_ns=ts_ns)


async def _redis_cpu_s(client: aioredis.Redis) -> float:
    info = await client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def _single(client: aioredis.Redis, entries: list[LogEntry], batch: int) -> float:
    store = RedisEventStore(
        client, EventStoreConfig(key_prefix=f"bench:{uuid.uuid4().hex}:", batch_size=batch)
    )
    await store.open()
    task = asyncio.create_task(store.run())
    started = time.perf_counter()
    store.add(entries)
    store.close(entries[-1].seq)  # writes everything queued, then returns
    await task
    return time.perf_counter() - started


async def _shards(client: aioredis.Redis, shards: int, events: int, batch: int) -> float:
    config = EventStoreConfig(key_prefix=f"bench:{uuid.uuid4().hex}:", batch_size=batch)
    stores = [
        ShardEventStore(
            client, config, Shard(index, shards), replays_history=False, marks=None, ordinal_allowance=events
        )  # fmt: skip
        for index in range(shards)
    ]
    for store in stores:
        await store.open()
    entries = _entries(events)
    share = events // shards
    shares = [_renumbered(entries[index * share : (index + 1) * share]) for index in range(shards)]
    tasks = [asyncio.create_task(store.run()) for store in stores]
    started = time.perf_counter()
    for store, share in zip(stores, shares, strict=True):
        await store.reserve_ordinals(len(share))
        store.add(share)
        store.close()  # writes everything queued, then returns
    await asyncio.gather(*tasks)
    return time.perf_counter() - started


def _renumbered(entries: list[LogEntry]) -> list[LogEntry]:
    """A shard's share with its own ordinals from 1 (the store rewrites the seq in the encoding)."""
    return [entry._replace(seq=index) for index, entry in enumerate(entries, 1)]


async def _run(args: argparse.Namespace, url: str) -> None:
    async with aioredis.from_url(url) as client:
        entries = _entries(args.events)
        print(f"event_bytes: {sum(len(e.encoded) for e in entries) / len(entries):.0f} bytes")
        cpu = await _redis_cpu_s(client)
        elapsed = await _single(client, entries, args.batch)
        used = await _redis_cpu_s(client) - cpu
        print(f"single_append_rate: {args.events / elapsed:.0f} events/s")
        print(f"single_redis_cpu: {used / args.events * 100_000:.2f} s/100k events")
        for shards in (int(n) for n in args.shards.split(",")):
            cpu = await _redis_cpu_s(client)
            elapsed = await _shards(client, shards, args.events, args.batch)
            used = await _redis_cpu_s(client) - cpu
            print(f"shards_{shards}_append_rate: {args.events / elapsed:.0f} events/s")
            print(f"shards_{shards}_redis_cpu: {used / args.events * 100_000:.2f} s/100k events")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--shards", default="1,2,4")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.redis_url:
        asyncio.run(_run(args, args.redis_url))
        return
    with tempfile.TemporaryDirectory() as directory:
        embedded = EmbeddedRedis(Path(directory) / "redis")
        embedded.start()
        try:
            asyncio.run(_run(args, embedded.url))
        finally:
            embedded.stop()


if __name__ == "__main__":
    main()
