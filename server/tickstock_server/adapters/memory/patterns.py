"""In-memory fake of the pattern mirror port, behaving like the Redis mirror."""

from __future__ import annotations

from collections.abc import Sequence

from tickstock_server.domain.patterns import Pattern
from tickstock_server.errors import DependencyUnavailableError


class MemoryPatternMirror:
    """Patterns by id; `available` False makes every call raise as an unreachable Redis would."""

    def __init__(self) -> None:
        """An empty, reachable mirror."""
        self._patterns: dict[str, Pattern] = {}
        self.available = True

    def _check(self) -> None:
        if not self.available:
            raise DependencyUnavailableError("the pattern mirror is unavailable")

    async def store(self, patterns: Sequence[Pattern]) -> None:
        """Write `patterns` by id, skipping those expiring at or before the epoch."""
        self._check()
        self._patterns.update({p.pattern_id: p for p in patterns if p.expires_ns > 0})

    async def cleanup(self, now_ns: int) -> int:
        """Forget the patterns expired at `now_ns`."""
        self._check()
        expired = [key for key, pattern in self._patterns.items() if pattern.expires_ns <= now_ns]
        for key in expired:
            del self._patterns[key]
        return len(expired)

    async def load(self, now_ns: int) -> list[Pattern]:
        """The patterns expiring after `now_ns`."""
        self._check()
        return [pattern for pattern in self._patterns.values() if pattern.expires_ns > now_ns]
