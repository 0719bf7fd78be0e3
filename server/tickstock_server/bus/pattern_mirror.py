"""`RedisPatternMirror`: the pattern cache's contents in Redis, so that other replicas and a restart see them.

Keys, under an injectable prefix (default ``tickstock:patterns:``):

- ``{prefix}pattern:{id}``: a STRING holding the pattern as compact JSON (`pattern_mirror_codec`), set
  with ``PXAT`` = its expiry, so Redis drops it on time by itself;
- ``{prefix}idx:expiry``: a ZSET of pattern ids scored by expiry (epoch ms), the only way to find the
  patterns without ``KEYS`` or ``SCAN``.

The original leaked index members of TTL-expired hashes, because its cleanup only looked at keys that
still existed. Here the index is scored by the same expiry as the string's TTL, so `cleanup` removes
every member whose pattern has expired with one ``ZREMRANGEBYSCORE``, whether or not the string still
exists. A member whose string vanished early (deleted, or evicted under ``maxmemory``) lingers at most
until its expiry and is skipped by `load`. No other index is kept: the cache builds its own in memory
from `load`, and each extra Redis index would be one more thing that can leak.

Every method maps Redis connection failures and timeouts to `DependencyUnavailableError`; the caller
retries and counts.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence

import redis.asyncio as aioredis
import redis.exceptions

from tickstock_server.bus.pattern_mirror_codec import pattern_from_json, pattern_to_json
from tickstock_server.domain.patterns import Pattern
from tickstock_server.errors import DependencyUnavailableError
from tickstock_server.support.time_units import NS_PER_MS

_logger = logging.getLogger(__name__)

DEFAULT_KEY_PREFIX = "tickstock:patterns:"
"""Prefix of every key of the mirror."""
DEFAULT_LOAD_CHUNK_SIZE = 500
"""Patterns fetched per ``MGET`` by `RedisPatternMirror.load`."""

_UNAVAILABLE_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


@contextlib.contextmanager
def _map_redis_errors() -> Iterator[None]:
    try:
        yield
    except _UNAVAILABLE_ERRORS as exc:
        raise DependencyUnavailableError("Redis is unavailable") from exc


def _expiry_ms(expires_ns: int) -> int:
    """Expiry in epoch ms, rounded up: Redis keeps the pattern at least as long as it is current."""
    return -(-expires_ns // NS_PER_MS)


class RedisPatternMirror:
    """Stores, loads and cleans up the mirrored patterns in Redis."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        load_chunk_size: int = DEFAULT_LOAD_CHUNK_SIZE,
    ) -> None:
        """Use `client`, which the caller owns and closes.

        Args:
            client: Redis client; it may decode responses or not.
            key_prefix: Prefix of every key (tests make it unique per test).
            load_chunk_size: Patterns fetched per ``MGET`` by `load`.
        """
        if load_chunk_size < 1:
            raise ValueError("load_chunk_size must be at least 1")
        self._client = client
        self._pattern_prefix = f"{key_prefix}pattern:"
        self._expiry_index = f"{key_prefix}idx:expiry"
        self._load_chunk_size = load_chunk_size

    @property
    def expiry_index_key(self) -> str:
        """Key of the ZSET of pattern ids scored by expiry (ms)."""
        return self._expiry_index

    def pattern_key(self, pattern_id: str) -> str:
        """Key of the STRING holding the pattern `pattern_id`."""
        return f"{self._pattern_prefix}{pattern_id}"

    async def store(self, patterns: Sequence[Pattern]) -> None:
        """Write `patterns` (replacing any with the same id) in one round trip, atomically (MULTI/EXEC).

        Patterns with an expiry at or before the epoch are skipped (Redis rejects such a ``PXAT``);
        patterns that are already expired are written and disappear at once.

        Raises:
            DependencyUnavailableError: Redis is unreachable.
        """
        scores: dict[str, int] = {}
        async with self._client.pipeline(transaction=True) as pipe:
            for pattern in patterns:
                expiry_ms = _expiry_ms(pattern.expires_ns)
                if expiry_ms <= 0:
                    continue
                pipe.set(self.pattern_key(pattern.pattern_id), pattern_to_json(pattern), pxat=expiry_ms)
                scores[pattern.pattern_id] = expiry_ms
            if not scores:
                return
            pipe.zadd(self._expiry_index, scores)
            with _map_redis_errors():
                await pipe.execute()

    async def cleanup(self, now_ns: int) -> int:
        """Remove the index members of patterns expired at `now_ns`; return how many.

        Raises:
            DependencyUnavailableError: Redis is unreachable.
        """
        with _map_redis_errors():
            removed: int = await self._client.zremrangebyscore(
                self._expiry_index, "-inf", now_ns // NS_PER_MS
            )
        return removed

    async def load(self, now_ns: int) -> list[Pattern]:
        """Read every pattern current at `now_ns` (expiring after it), e.g. to warm the cache at start.

        Ids come from the expiry index, values from chunked ``MGET``s. Members whose value is gone are
        skipped; values that cannot be decoded (another format version) are skipped and counted in one
        warning.

        Raises:
            DependencyUnavailableError: Redis is unreachable.
        """
        with _map_redis_errors():
            members = await self._client.zrangebyscore(self._expiry_index, f"({now_ns // NS_PER_MS}", "+inf")
        ids = [member.decode() if isinstance(member, bytes) else str(member) for member in members]
        patterns: list[Pattern] = []
        undecodable = 0
        for start in range(0, len(ids), self._load_chunk_size):
            chunk = ids[start : start + self._load_chunk_size]
            with _map_redis_errors():
                values = await self._client.mget([self.pattern_key(pattern_id) for pattern_id in chunk])
            for value in values:
                if value is None:
                    continue
                try:
                    pattern = pattern_from_json(value)
                except ValueError:
                    undecodable += 1
                    continue
                if pattern.expires_ns > now_ns:
                    patterns.append(pattern)
        if undecodable:
            _logger.warning("skipped %d mirrored patterns that could not be decoded", undecodable)
        return patterns
