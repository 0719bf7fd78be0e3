"""Ports for the link to the producer (TickStockPL): its pub/sub channels and its heartbeat."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

MessageSink = Callable[[bytes | str, bytes | str], None]
"""Receives one message: (channel name, payload). Must not raise."""


class ProducerLink(Protocol):
    """A subscription to the producer's channels that also reads its heartbeat, until cancelled."""

    @property
    def connected(self) -> bool:
        """True while subscribed to every channel."""
        ...

    @property
    def reconnects(self) -> int:
        """Returns to `connected` after a lost connection."""
        ...

    @property
    def heartbeat_ns(self) -> int | None:
        """The producer's last heartbeat, UTC epoch ns; None when missing or malformed."""
        ...

    async def run(self) -> None:
        """Subscribe, hand every message to the sink, and poll the heartbeat, until cancelled."""
        ...


class ProducerLinkFactory(Protocol):
    """Makes the link of a consumer: its channels, its heartbeat key and where messages go."""

    def __call__(self, channels: Sequence[str], heartbeat_key: str, on_message: MessageSink) -> ProducerLink:
        """A link that is not yet running."""
        ...
