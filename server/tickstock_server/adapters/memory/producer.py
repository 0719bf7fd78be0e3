"""In-memory fake of the producer link port: messages are handed over by the test, not by Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from tickstock_server.ports.producer import MessageSink


class MemoryProducerLink:
    """A link that is connected while `run()` runs and passes `deliver`ed messages to the consumer."""

    def __init__(self, channels: Sequence[str], heartbeat_key: str, on_message: MessageSink) -> None:
        """The link of one consumer (the signature of `ProducerLinkFactory`)."""
        self.channels = tuple(channels)
        self.heartbeat_key = heartbeat_key
        self._on_message = on_message
        self._connected = False
        self.reconnects = 0
        self.heartbeat_ns: int | None = None
        """The producer's heartbeat the test wants the consumer to see."""

    @property
    def connected(self) -> bool:
        """True while `run()` runs."""
        return self._connected

    def deliver(self, channel: str, data: bytes | str) -> None:
        """Hand one message to the consumer, as a subscription would."""
        self._on_message(channel, data)

    async def run(self) -> None:
        """Stay connected until cancelled."""
        self._connected = True
        try:
            await asyncio.Event().wait()
        finally:
            self._connected = False
