"""The feed's pulse, from the ingest process to the gateways: when ticks last arrived, and their event time.

The ingest writes the hash ``{prefix}feed`` (``arrival_ns``, ``last_tick_ns``, ``fallback_active``) every
`interval_s`; each gateway reads it as often. Gateways use it for the feed age of stream heartbeats, the
market clock of `GetBars` and whether the fallback pattern detector is active (its switch runs in the
ingest, the one source of truth; with several shards, which see the same producer heartbeat, the last
write wins); it is at most about two intervals old.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tickstock_server.support.cancellation import raise_if_cancelling

_logger = logging.getLogger(__name__)


def _key(key_prefix: str) -> str:
    return key_prefix + "feed"


async def publish_feed_pulse(
    client: aioredis.Redis,
    key_prefix: str,
    pulse: Callable[[], tuple[int, int]],
    *,
    fallback_active: Callable[[], bool] = lambda: False,
    interval_s: float = 0.5,
) -> None:
    """Until cancelled, write the pulse every `interval_s`; log outages once.

    `pulse()` gives the arrival and last tick times (ns), `fallback_active()` the fallback switch's state.
    """
    key = _key(key_prefix)
    failing = False
    while True:
        arrival_ns, last_tick_ns = pulse()
        active = int(fallback_active())
        try:
            await client.hset(
                key,
                mapping={"arrival_ns": arrival_ns, "last_tick_ns": last_tick_ns, "fallback_active": active},
            )
            failing = False
        except RedisError as exc:
            raise_if_cancelling()  # redis-py may turn our cancellation into a connection error
            if not failing:
                _logger.warning("cannot publish the feed pulse (%s); gateways see it age", type(exc).__name__)
            failing = True
        raise_if_cancelling()  # a cancellation redis-py lost (see `raise_if_cancelling`)
        await asyncio.sleep(interval_s)


class FeedPulse:
    """The gateway's copy of the feed pulse."""

    def __init__(self, client: aioredis.Redis, key_prefix: str, *, interval_s: float = 0.5) -> None:
        self._client = client
        self._key = _key(key_prefix)
        self._interval_s = interval_s
        self.arrival_ns = 0
        """Wall-clock time ticks last arrived at the ingest, UTC epoch ns; 0 before the first."""
        self.last_tick_ns = 0
        """Event time of the newest tick, UTC epoch ns; 0 before the first."""
        self.fallback_active = False
        """Whether the ingest's fallback pattern detector is active."""

    def age_ns(self, now_ns: int) -> int:
        """Wall-clock time since ticks last arrived; 0 before the first."""
        return max(now_ns - self.arrival_ns, 0) if self.arrival_ns else 0

    async def run(self) -> None:
        """Refresh from Redis every interval until cancelled; keep the last values through outages."""
        while True:
            try:
                values = cast(dict[bytes, bytes], await self._client.hgetall(self._key))
                self.arrival_ns = int(values.get(b"arrival_ns", 0))
                self.last_tick_ns = int(values.get(b"last_tick_ns", 0))
                self.fallback_active = values.get(b"fallback_active") == b"1"
            except (RedisError, ValueError) as exc:
                raise_if_cancelling()
                _logger.debug("cannot read the feed pulse (%s)", type(exc).__name__)
            raise_if_cancelling()  # a cancellation redis-py lost (see `raise_if_cancelling`)
            await asyncio.sleep(self._interval_s)
