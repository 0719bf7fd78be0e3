"""Ports for feeds of ticks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Protocol

from tickstock_server.domain.tick import Tick


class TickSource(Protocol):
    """A feed of ticks (synthetic, Massive WebSocket, replay)."""

    def ticks(self) -> AsyncIterator[list[Tick]]:
        """Yield ticks in batches, in event-time order per symbol, until the feed ends or is cancelled."""
        ...

    @property
    def rejected(self) -> Mapping[str, int]:
        """Frames and events skipped as malformed so far, by reason (empty for a feed that cannot fail)."""
        ...
