"""The pattern feature's rules: what enters the cache, for how long, when the fallback speaks, the mirror.

Patterns come from the producer (through its consumer) and, while the producer is silent, from the
fallback detector (`fallback_feed`: in this process, or in the ingest process, whose fallback patterns a
gateway takes from the event stream). Every pattern is capped at the cache TTL, cached (live streams and
alert routing follow the cache) and queued for the mirror, which a maintenance loop writes and cleans up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tickstock_server.domain.patterns import Pattern
from tickstock_server.errors import DependencyUnavailableError
from tickstock_server.patterns.cache import PatternCache
from tickstock_server.ports.patterns import PatternMirror
from tickstock_server.support.time_units import NS_PER_S

_logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternRules:
    """How long patterns live and how often the maintenance runs."""

    ttl_s: float
    """Longest a pattern stays current after it is cached, seconds; a longer producer expiry is cut."""
    maintenance_s: float = 5.0
    """Interval of cache expiry, mirror writes and cleanup, seconds."""

    @property
    def ttl_ns(self) -> int:
        """`ttl_s` in ns."""
        return round(self.ttl_s * NS_PER_S)


def cap_expiry(pattern: Pattern, cap_ns: int) -> Pattern:
    """`pattern`, expiring at `cap_ns` at the latest: a producer's multi-day expiry would outlive the TTL."""
    return pattern if pattern.expires_ns <= cap_ns else dataclasses.replace(pattern, expires_ns=cap_ns)


class PatternService:
    """Feeds the cache with the producer's and the fallback's patterns, and keeps the mirror in step."""

    def __init__(
        self,
        *,
        cache: PatternCache,
        mirror: PatternMirror,
        rules: PatternRules,
        clock_ns: Callable[[], int],
    ) -> None:
        """Work on `cache`, mirrored to `mirror`.

        Args:
            cache: The pattern cache that scans, live streams and alert routing read.
            mirror: The durable copy every server warms its cache from.
            rules: TTL and maintenance interval.
            clock_ns: Wall clock, UTC epoch ns.
        """
        self.cache = cache
        self._mirror = mirror
        self._rules = rules
        self._clock_ns = clock_ns
        self._unmirrored: list[Pattern] = []
        """Patterns cached but not yet mirrored; bounded by the cache's capacity when the mirror is down."""

    @property
    def unmirrored(self) -> int:
        """Patterns waiting for the mirror."""
        return len(self._unmirrored)

    def add_patterns(self, patterns: Sequence[Pattern]) -> None:
        """Cache new patterns (alert routing and live streams follow) and queue them for the mirror."""
        cap_ns = self._clock_ns() + self._rules.ttl_ns
        for pattern in patterns:
            pattern = cap_expiry(pattern, cap_ns)
            self.cache.put(pattern)
            self._unmirrored.append(pattern)

    def add_unseen(self, patterns: Sequence[Pattern]) -> int:
        """Like `add_patterns`, for the patterns whose id the cache does not hold; return how many.

        For patterns another process detected and logged (a gateway takes the ingest's fallback patterns
        from the event stream): one the cache already holds, warmed from the mirror, is not taken twice.
        """
        unseen = [pattern for pattern in patterns if self.cache.get(pattern.pattern_id) is None]
        self.add_patterns(unseen)
        return len(unseen)

    async def warm(self) -> None:
        """Fill the cache from the mirror (without notifying listeners); a missing mirror is no error."""
        with contextlib.suppress(DependencyUnavailableError):
            for pattern in await self._mirror.load(self._clock_ns()):
                self.cache.put(pattern, notify=False)

    async def run_maintenance(self) -> None:
        """Until cancelled: expire the cache, write and clean the mirror."""
        while True:
            await asyncio.sleep(self._rules.maintenance_s)
            now_ns = self._clock_ns()
            self.cache.expire(now_ns)
            try:
                await self.flush_mirror()
                await self._mirror.cleanup(now_ns)
            except DependencyUnavailableError:
                _logger.warning("pattern mirror unreachable; %d patterns wait", len(self._unmirrored))

    async def flush_mirror(self) -> None:
        """Write the queued patterns to the mirror.

        Raises:
            DependencyUnavailableError: The mirror is unreachable. The newest patterns, as many as the
                cache holds, stay queued for the next attempt; older ones are dropped from the queue
                (the cache has evicted them anyway).
        """
        if not self._unmirrored:
            return
        batch, self._unmirrored = self._unmirrored, []
        try:
            await self._mirror.store(batch)
        except DependencyUnavailableError:
            self._unmirrored = batch[-self.cache.max_patterns :] + self._unmirrored
            raise
