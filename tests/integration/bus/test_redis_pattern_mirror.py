"""RedisPatternMirror on a real Redis: round trips, TTL, index cleanup without leaks, no KEYS/SCAN, replicas,
Redis outages and restarts; plus the value format's validation."""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from pattern_mirror_contract import PatternMirrorContract

from tickstock_server.bus.pattern_mirror import RedisPatternMirror
from tickstock_server.bus.pattern_mirror_codec import (
    pattern_from_dict,
    pattern_from_json,
    pattern_to_dict,
    pattern_to_json,
)
from tickstock_server.domain.patterns import Pattern, PatternIndicators, PatternSource, PatternTimeframe
from tickstock_server.embedded import EmbeddedRedis
from tickstock_server.errors import DependencyUnavailableError
from tickstock_server.patterns.cache import PatternCache
from tickstock_server.patterns.scan import ScanQuery

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
HOUR_NS = 3_600 * NS_PER_S


def make_pattern(pattern_id: str, expires_ns: int, **overrides: Any) -> Pattern:
    fields: dict[str, Any] = {
        "pattern_id": pattern_id,
        "symbol": "AAPL",
        "pattern_type": "Bull_Flag",
        "confidence": 0.85,
        "price": 150.25,
        "price_change_pct": 2.3,
        "detected_ns": expires_ns - HOUR_NS,
        "expires_ns": expires_ns,
        "timeframe": PatternTimeframe.DAILY,
        "source": PatternSource.PRODUCER,
        "indicators": PatternIndicators(relative_strength=1.4, relative_volume=2.1, rsi=65.5),
        "flow_id": "3f1c2d4e-flow",
    }
    fields.update(overrides)
    return Pattern(**fields)


def varied_patterns(expires_ns: int) -> list[Pattern]:
    """Patterns covering every optional field's presence and absence."""
    return [
        make_pattern("full", expires_ns),
        make_pattern(
            "bare",
            expires_ns + 1,
            price=None,
            price_change_pct=0.0,
            timeframe=None,
            source=PatternSource.FALLBACK,
            indicators=PatternIndicators(),
            flow_id="",
        ),
        make_pattern("partial", expires_ns + 2, indicators=PatternIndicators(rsi=30.0), symbol="BRK.B"),
        make_pattern("intraday", expires_ns + 3, timeframe=PatternTimeframe.INTRADAY, confidence=1),
    ]


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    connection = aioredis.from_url(redis_url)
    try:
        yield connection
    finally:
        await connection.aclose()


@pytest.fixture
async def prefix(client: aioredis.Redis) -> AsyncIterator[str]:
    """A key prefix of this test only; its keys are deleted afterwards (SCAN is fine in a test)."""
    unique = f"test:{uuid.uuid4().hex}:"
    yield unique
    async for key in client.scan_iter(match=f"{unique}*"):
        await client.delete(key)


@pytest.fixture
def mirror(client: aioredis.Redis, prefix: str) -> RedisPatternMirror:
    return RedisPatternMirror(client, key_prefix=prefix)


class TestRedisPatternMirrorContract(PatternMirrorContract):
    """The port's contract, on real Redis (the module's `mirror` fixture)."""


def by_id(patterns: list[Pattern]) -> dict[str, Pattern]:
    return {pattern.pattern_id: pattern for pattern in patterns}


# --- round trip, TTL, replicas ----------------------------------------------------------------------------


async def test_store_then_load_returns_equal_patterns(mirror: RedisPatternMirror) -> None:
    # Arrange
    now_ns = time.time_ns()
    stored = varied_patterns(now_ns + HOUR_NS)

    # Act
    await mirror.store(stored)
    loaded = await mirror.load(now_ns)

    # Assert
    assert by_id(loaded) == by_id(stored)


async def test_store_replaces_same_id_and_its_expiry(
    mirror: RedisPatternMirror, client: aioredis.Redis
) -> None:
    # Arrange
    now_ns = time.time_ns()
    await mirror.store([make_pattern("x", now_ns + HOUR_NS, confidence=0.6)])

    # Act
    await mirror.store([make_pattern("x", now_ns + 2 * HOUR_NS, confidence=0.9)])

    # Assert
    assert [p.confidence for p in await mirror.load(now_ns)] == [0.9]
    assert await client.zcard(mirror.expiry_index_key) == 1
    assert await client.zscore(mirror.expiry_index_key, "x") == math.ceil((now_ns + 2 * HOUR_NS) / NS_PER_MS)


async def test_store_sets_the_pattern_expiry_as_redis_ttl(
    mirror: RedisPatternMirror, client: aioredis.Redis
) -> None:
    # Arrange
    now_ns = time.time_ns()

    # Act
    await mirror.store([make_pattern("x", now_ns + HOUR_NS)])

    # Assert: PXAT now + 1 h leaves a TTL of at most 1 h (and not much less: the call took milliseconds)
    ttl_ms = await client.pttl(mirror.pattern_key("x"))
    assert HOUR_NS // NS_PER_MS - 60_000 < ttl_ms <= HOUR_NS // NS_PER_MS + 1


async def test_redis_drops_the_pattern_at_its_expiry(
    mirror: RedisPatternMirror, client: aioredis.Redis
) -> None:
    # Arrange
    await mirror.store([make_pattern("soon", time.time_ns() + 200 * NS_PER_MS)])
    assert await client.exists(mirror.pattern_key("soon")) == 1

    # Act: wait for Redis' own expiry (bounded; the TTL is 0.2 s)
    for _ in range(250):
        if not await client.exists(mirror.pattern_key("soon")):
            break
        await asyncio.sleep(0.02)

    # Assert
    assert await client.exists(mirror.pattern_key("soon")) == 0


async def test_load_skips_patterns_expired_at_now(mirror: RedisPatternMirror) -> None:
    # Arrange
    now_ns = time.time_ns()
    await mirror.store([make_pattern("early", now_ns + HOUR_NS), make_pattern("late", now_ns + 2 * HOUR_NS)])

    # Act
    loaded = await mirror.load(now_ns + HOUR_NS)

    # Assert
    assert [p.pattern_id for p in loaded] == ["late"]


async def test_second_replica_loads_the_same_state(redis_url: str, prefix: str) -> None:
    # Arrange: two clients, as two server processes would have
    first_client = aioredis.from_url(redis_url)
    second_client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        now_ns = time.time_ns()
        stored = varied_patterns(now_ns + HOUR_NS)
        await RedisPatternMirror(first_client, key_prefix=prefix).store(stored)

        # Act
        loaded = await RedisPatternMirror(second_client, key_prefix=prefix).load(now_ns)
    finally:
        await first_client.aclose()
        await second_client.aclose()

    # Assert
    assert by_id(loaded) == by_id(stored)


async def test_load_in_small_chunks_returns_everything(client: aioredis.Redis, prefix: str) -> None:
    # Arrange
    mirror = RedisPatternMirror(client, key_prefix=prefix, load_chunk_size=2)
    now_ns = time.time_ns()
    stored = [make_pattern(f"id{i}", now_ns + HOUR_NS + i) for i in range(7)]
    await mirror.store(stored)

    # Act
    loaded = await mirror.load(now_ns)

    # Assert
    assert by_id(loaded) == by_id(stored)


async def test_loaded_patterns_warm_a_cache_without_notifying(mirror: RedisPatternMirror) -> None:
    # Arrange
    now_ns = time.time_ns()
    await mirror.store(varied_patterns(now_ns + HOUR_NS))
    cache = PatternCache()
    notified: list[Pattern] = []
    cache.add_listener(notified.append)

    # Act
    for pattern in await mirror.load(now_ns):
        cache.put(pattern, notify=False)

    # Assert
    assert cache.scan(ScanQuery(min_confidence=0.0), now_ns).total_size == 4
    assert notified == []


# --- cleanup and leaks ------------------------------------------------------------------------------------


async def test_cleanup_removes_index_members_of_expired_patterns(
    mirror: RedisPatternMirror, client: aioredis.Redis
) -> None:
    # Arrange: two patterns already expired (Redis drops their strings at once), one current
    now_ns = time.time_ns()
    await mirror.store(
        [
            make_pattern("old1", now_ns - 2 * NS_PER_S),
            make_pattern("old2", now_ns - NS_PER_S),
            make_pattern("live", now_ns + HOUR_NS),
        ]
    )
    assert await client.zcard(mirror.expiry_index_key) == 3

    # Act
    removed = await mirror.cleanup(now_ns)

    # Assert
    assert removed == 2
    assert await client.zrange(mirror.expiry_index_key, 0, -1) == [b"live"]
    assert await client.exists(mirror.pattern_key("old1"), mirror.pattern_key("old2")) == 0
    assert [p.pattern_id for p in await mirror.load(now_ns)] == ["live"]


async def test_nothing_is_left_once_every_pattern_expired_and_cleanup_ran(
    mirror: RedisPatternMirror, client: aioredis.Redis
) -> None:
    # Arrange
    now_ns = time.time_ns()
    expired = [make_pattern(f"id{i}", now_ns - (i + 1) * NS_PER_S) for i in range(20)]
    await mirror.store(expired)

    # Act
    removed = await mirror.cleanup(now_ns)

    # Assert
    assert removed == 20
    keys = [mirror.expiry_index_key, *(mirror.pattern_key(p.pattern_id) for p in expired)]
    assert await client.exists(*keys) == 0


async def test_mirror_never_uses_keys_or_scan_and_stores_in_one_transaction(
    mirror: RedisPatternMirror, client: aioredis.Redis
) -> None:
    # Arrange
    before = await client.info("commandstats")
    now_ns = time.time_ns()

    # Act
    await mirror.store([make_pattern(f"id{i}", now_ns + HOUR_NS + i) for i in range(50)])
    await mirror.load(now_ns)
    await mirror.cleanup(now_ns)

    # Assert
    after = await client.info("commandstats")

    def calls(stats: dict[str, Any], command: str) -> int:
        return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))

    for command in ("keys", "scan"):
        assert calls(after, command) == calls(before, command)
    assert calls(after, "exec") - calls(before, "exec") == 1
    assert calls(after, "set") - calls(before, "set") == 50
    assert calls(after, "zadd") - calls(before, "zadd") == 1


async def test_undecodable_values_are_skipped_with_a_warning(
    mirror: RedisPatternMirror, client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange: a value of a future format and one that is not JSON, both indexed
    now_ns = time.time_ns()
    await mirror.store([make_pattern("good", now_ns + HOUR_NS)])
    await client.set(mirror.pattern_key("future"), json.dumps({"v": 2}))
    await client.set(mirror.pattern_key("junk"), b"\xff not json")
    score = (now_ns + HOUR_NS) // NS_PER_MS
    await client.zadd(mirror.expiry_index_key, {"future": score, "junk": score, "vanished": score})

    # Act
    loaded = await mirror.load(now_ns)

    # Assert
    assert [p.pattern_id for p in loaded] == ["good"]
    assert "skipped 2 mirrored patterns" in caplog.text


async def test_store_of_nothing_writes_nothing(mirror: RedisPatternMirror, client: aioredis.Redis) -> None:
    # Act
    await mirror.store([])
    await mirror.store([make_pattern("epoch", 0)])

    # Assert
    assert await client.exists(mirror.expiry_index_key, mirror.pattern_key("epoch")) == 0


# --- outages and restarts ---------------------------------------------------------------------------------


async def test_outage_raises_dependency_unavailable_and_restart_keeps_the_patterns(tmp_path: Path) -> None:
    # Arrange: our own Redis, to stop and restart it
    server = EmbeddedRedis(tmp_path / "redis")
    await asyncio.to_thread(server.start)
    url = server.url
    client = aioredis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    mirror = RedisPatternMirror(client, key_prefix="restart:")
    now_ns = time.time_ns()
    stored = varied_patterns(now_ns + HOUR_NS)
    try:
        await mirror.store(stored)
        await asyncio.to_thread(server.stop)

        # Act / Assert: down
        with pytest.raises(DependencyUnavailableError):
            await mirror.store(stored)
        with pytest.raises(DependencyUnavailableError):
            await mirror.load(now_ns)
        with pytest.raises(DependencyUnavailableError):
            await mirror.cleanup(now_ns)

        # Act: back (it saved a snapshot on stop)
        await asyncio.to_thread(server.start)
        await client.aclose()
        client = aioredis.from_url(server.url)
        loaded = await RedisPatternMirror(client, key_prefix="restart:").load(now_ns)
    finally:
        await client.aclose()
        await asyncio.to_thread(server.stop)

    # Assert
    assert by_id(loaded) == by_id(stored)


# --- value format -----------------------------------------------------------------------------------------


def test_format_round_trips_every_field_combination() -> None:
    for pattern in varied_patterns(1_780_000_000 * NS_PER_S):
        assert pattern_from_json(pattern_to_json(pattern)) == pattern


def test_format_is_compact_and_versioned() -> None:
    # Act
    text = pattern_to_json(make_pattern("x", 5 * NS_PER_S, indicators=PatternIndicators(), flow_id=""))

    # Assert
    assert json.loads(text) == {
        "v": 1,
        "id": "x",
        "sym": "AAPL",
        "type": "Bull_Flag",
        "conf": 0.85,
        "price": 150.25,
        "chg": 2.3,
        "det": 5 * NS_PER_S - HOUR_NS,
        "exp": 5 * NS_PER_S,
        "tf": "daily",
        "src": "producer",
    }
    assert " " not in text


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"v": None},
        {"id": 5},
        {"sym": None},
        {"conf": "0.8"},
        {"conf": True},
        {"price": "1"},
        {"det": 1.5},
        {"exp": None},
        {"tf": "weekly"},
        {"tf": 1},
        {"src": "other"},
        {"ind": []},
        {"ind": {"rsi": "50"}},
        {"flow": 7},
    ],
)
def test_format_rejects_bad_fields(change: dict[str, Any]) -> None:
    data = {**pattern_to_dict(make_pattern("x", 5 * NS_PER_S)), **change}
    with pytest.raises(ValueError):
        pattern_from_dict(data)


@pytest.mark.parametrize("raw", [b"[]", b"not json", b'"text"'])
def test_format_rejects_non_objects(raw: bytes) -> None:
    with pytest.raises(ValueError):
        pattern_from_json(raw)
