"""Keeps a simulator loop alive across Redis outages: retry with exponential backoff, never crash."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.exceptions import RedisError

from tickstock_server.support.backoff import Backoff

__all__ = ["RetryPolicy", "run_with_retry"]

_logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Delays between attempts after a Redis error."""

    initial_s: float = 0.5
    """First delay, seconds; doubles per failed attempt."""
    max_s: float = 10.0
    """Longest delay, seconds. An attempt that ran at least this long counts as a success: the next
    failure waits `initial_s` again."""

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError("need 0 < initial_s <= max_s")


async def run_with_retry(name: str, body: Callable[[], Awaitable[None]], policy: RetryPolicy) -> None:
    """Run `body` until it returns; after a Redis error (or OSError) log a warning, wait, run it again.

    Any other exception propagates, and so does cancellation.
    """
    loop = asyncio.get_running_loop()
    backoff = Backoff(policy.initial_s, policy.max_s)
    while True:
        started_s = loop.time()
        try:
            await body()
            return
        except (RedisError, OSError) as exc:
            if loop.time() - started_s >= policy.max_s:
                backoff.reset()
            delay_s = backoff.next_delay_s()
            _logger.warning(
                "%s: Redis error %s; retrying in %.1f s (attempt %d)", name, exc, delay_s, backoff.attempt
            )
            await asyncio.sleep(delay_s)
