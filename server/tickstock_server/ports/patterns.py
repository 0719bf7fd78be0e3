"""Ports for the pattern cache's durable copy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tickstock_server.domain.patterns import Pattern


class PatternMirror(Protocol):
    """A durable copy of the current patterns, shared by every server, that survives a restart."""

    async def store(self, patterns: Sequence[Pattern]) -> None:
        """Write `patterns`, replacing any with the same id, all or none.

        Patterns expiring at or before the epoch are skipped.

        Raises:
            DependencyUnavailableError: The mirror is unreachable; nothing was written.
        """
        ...

    async def cleanup(self, now_ns: int) -> int:
        """Forget patterns expired at `now_ns` (UTC epoch ns); return how many.

        Raises:
            DependencyUnavailableError: The mirror is unreachable.
        """
        ...

    async def load(self, now_ns: int) -> list[Pattern]:
        """Every pattern current at `now_ns` (expiring after it).

        Raises:
            DependencyUnavailableError: The mirror is unreachable.
        """
        ...
