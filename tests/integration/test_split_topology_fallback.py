"""The fallback pattern detector in the split topology, as real processes on a real Redis and PostgreSQL.

No producer and no simulator: the ingest's fallback switch takes over after one second, and the stored
bars it replays (the bars feed, a minute of event time every two seconds, every bar a Doji) become
FALLBACK patterns. A gateway streams them as PATTERN events, serves them from ScanPatterns, reports the
fallback as active, and a gateway started later has them too (warmed from the mirror).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import grpc
import pytest
import redis.asyncio as aioredis
from factories import NS_PER_S, ns_at
from polling import eventually
from resuming_client import ResumingClient
from server_process import free_port, run_admin, server_env, serving, started, topology_settings
from topology_streams import read_stream

from tickstock.v1 import event_service_pb2, events_pb2, pattern_service_pb2, pattern_service_pb2_grpc
from tickstock_server.bus.pattern_mirror import RedisPatternMirror
from tickstock_server.storage.migrate import apply_migrations

SYMBOLS = ("FBAA", "FBBB", "FBCC")
OPEN_NS = ns_at("2025-01-08T14:30:00")  # Wednesday 09:30 ET
MINUTES = 120
"""Stored minutes per symbol: at 30 times real time, four minutes of wall clock, more than a test takes."""

Metadata = tuple[tuple[str, str], ...]


async def _store_dojis(pool: asyncpg.Pool) -> None:
    """Every minute of every symbol a Doji: body 0.05 within a range of 2."""
    await apply_migrations(pool)
    rows = []
    for symbol in SYMBOLS:
        for minute in range(MINUTES):
            start = dt.datetime.fromtimestamp((OPEN_NS + minute * 60 * NS_PER_S) / NS_PER_S, tz=dt.UTC)
            rows.append((symbol, start, 100.0, 101.0, 99.0, 100.05, 5_000))
    await pool.executemany(
        "INSERT INTO ohlcv_1min (symbol, ts, open, high, low, close, volume)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        rows,
    )


@dataclass
class Topology:
    gateway_env: dict[str, str]
    """A gateway's settings, without its port."""
    metadata: Metadata
    mirror_index: str
    """The pattern mirror's expiry index in Redis."""


@pytest.fixture
async def topology(pg_pool: asyncpg.Pool, pg_database_url: str, redis_url: str) -> AsyncIterator[Topology]:
    """The ingest replaying the stored Dojis, and what a gateway needs."""
    await _store_dojis(pg_pool)
    prefix = f"split-fb-{uuid.uuid4().hex[:8]}:"
    common = {
        **topology_settings(pg_database_url, redis_url, prefix),
        "TICKSTOCK_PATTERNS__FALLBACK_ACTIVATE_AFTER_S": "1",
        "TICKSTOCK_PATTERNS__FALLBACK_STAND_DOWN_AFTER_S": "2",
    }
    ingest_env = server_env(
        0,
        TICKSTOCK_ROLE="ingest",
        **common,
        TICKSTOCK_FEED__KIND="bars",
        TICKSTOCK_FEED__BARS__FIRST_DAY="2025-01-08",
        TICKSTOCK_FEED__BARS__SYMBOLS=",".join(SYMBOLS),
        TICKSTOCK_FEED__BARS__SPEED="30",
    )
    async with started(ingest_env):
        token = await run_admin("create-key", "--user", "alice", env=ingest_env)
        metadata = (("authorization", f"Bearer {token}"),)
        mirror = RedisPatternMirror(aioredis.Redis(), key_prefix=common["TICKSTOCK_PATTERNS__KEY_PREFIX"])
        yield Topology({"TICKSTOCK_ROLE": "gateway", **common}, metadata, mirror.expiry_index_key)


async def _scan(port: int, metadata: Metadata) -> list[pattern_service_pb2.Pattern]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pattern_service_pb2_grpc.PatternServiceStub(channel)
        response = await stub.ScanPatterns(
            pattern_service_pb2.ScanPatternsRequest(page_size=100), metadata=metadata, timeout=10
        )
    return list(response.patterns)


async def _fallback_active(port: int, metadata: Metadata) -> bool:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pattern_service_pb2_grpc.PatternServiceStub(channel)
        stats = await stub.GetPatternStats(
            pattern_service_pb2.GetPatternStatsRequest(), metadata=metadata, timeout=10
        )
    return stats.fallback_active


async def test_with_the_producer_silent_gateways_stream_scan_and_warm_with_fallback_patterns(
    topology: Topology, redis_url: str
) -> None:
    gateway_env, metadata = topology.gateway_env, topology.metadata
    port, later_port = free_port(), free_port()
    async with serving(server_env(port, **gateway_env), port):
        client = ResumingClient()
        patterns_only = event_service_pb2.EventFilter(event_types=[events_pb2.EVENT_TYPE_PATTERN])
        await read_stream(port, metadata, client, patterns_only, events=len(SYMBOLS), timeout_s=90)

        assert {event.type for event in client.events} == {events_pb2.EVENT_TYPE_PATTERN}
        assert {event.pattern.source for event in client.events} == {events_pb2.PATTERN_SOURCE_FALLBACK}
        assert {event.pattern.pattern_type for event in client.events} == {"Doji"}
        assert {event.symbol for event in client.events} <= set(SYMBOLS)
        # The state comes with the feed pulse (every 0.5 s), which may trail the first patterns.
        await eventually(lambda: _fallback_active(port, metadata), 30, 0.2)
        streamed = {event.event_id for event in client.events}

        async def scanned_all_streamed() -> bool:
            return streamed <= {p.details.pattern_id for p in await _scan(port, metadata)}

        await eventually(scanned_all_streamed, 30, 0.2)
        scanned = await _scan(port, metadata)
        assert {p.details.source for p in scanned} == {events_pb2.PATTERN_SOURCE_FALLBACK}
        assert len({p.details.pattern_id for p in scanned}) == len(scanned)

        # A gateway started once they are mirrored (every 5 s) warms its cache from the mirror.
        async with aioredis.from_url(redis_url) as redis_client:

            async def mirrored() -> bool:
                ids = await redis_client.zrange(topology.mirror_index, 0, -1)
                return streamed <= {member.decode() for member in ids}

            await eventually(mirrored, 30, 0.2)
        async with serving(server_env(later_port, **gateway_env), later_port):
            warmed = {p.details.pattern_id for p in await _scan(later_port, metadata)}

    assert streamed <= warmed
