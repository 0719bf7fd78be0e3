"""`StallSweeper`: ends the streams whose client stopped reading, from outside their handlers.

Each StreamEvents handler stamps the deadline of the message it hands to gRPC (`delivery/stall_guard.py`)
and yields it: gRPC's own loop writes it, and a write the client does not take waits there. One sweeper
per server checks the stamps every `interval_s` and ends each stream past its deadline with
RESOURCE_EXHAUSTED (`SLOW_CONSUMER`): its handler's task is cancelled, which releases the subscription
and the per-user slot at once, and the status follows the messages already in the transport. A stalled
stream so ends within its stall timeout plus `interval_s`.

The handlers pay two attribute stores per message and no timer. The sweeper's task runs only while
streams are registered; the registry holds one entry per open stream, bounded by the stream limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from tickstock_server.api.interceptors import Context
from tickstock_server.api.stream_ending import send_final_status
from tickstock_server.delivery.stall_guard import StallGuard
from tickstock_server.errors import SubscriberOverloadedError

_logger = logging.getLogger(__name__)


@dataclass(eq=False, slots=True)
class _Stream:
    task: asyncio.Task[object]
    context: Context
    guard: StallGuard


class StallSweeper:
    """Knows every open stream's `StallGuard` and ends the stalled ones (see the module docstring)."""

    def __init__(self, *, interval_s: float) -> None:
        """Check the registered streams every `interval_s` seconds."""
        self._interval_s = interval_s
        self._streams: set[_Stream] = set()
        self._sweeping: asyncio.Task[None] | None = None
        self._ending: set[asyncio.Task[None]] = set()
        self.ended_total = 0
        """Streams ended because their client stopped reading."""

    @contextlib.contextmanager
    def watching(self, guard: StallGuard, context: Context) -> Iterator[None]:
        """Register the current task's stream, whose writes `guard` stamps, for the duration of the block.

        The stream must run in the task that serves the call (as grpc.aio runs handlers): ending it
        cancels that task.
        """
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("streams are watched from the task that serves them")
        stream = _Stream(task, context, guard)
        self._streams.add(stream)
        if self._sweeping is None:
            self._sweeping = asyncio.create_task(self._run(), name="stall-sweeper")
        try:
            yield
        finally:
            self._streams.discard(stream)
            if not self._streams and self._sweeping is not None:
                self._sweeping.cancel()
                self._sweeping = None

    def sweep(self) -> int:
        """End every stream past its deadline now; how many."""
        now = asyncio.get_running_loop().time()
        stalled = [stream for stream in self._streams if stream.guard.stalled(now)]
        if not stalled:
            return 0
        self._streams.difference_update(stalled)
        for stream in stalled:  # the slots go now, whatever happens to the statuses
            stream.task.cancel()
        self.ended_total += len(stalled)
        _logger.info("ending %d streams whose clients stopped reading", len(stalled))
        ending = asyncio.create_task(self._end(stalled), name="stall-sweeper-end")
        self._ending.add(ending)
        ending.add_done_callback(self._ending.discard)
        return len(stalled)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            self.sweep()

    @staticmethod
    async def _end(streams: list[_Stream]) -> None:
        # A status may wait for a client that reads nothing; its slot is free already, so the status
        # gets as long as a message would have, then is left on its way.
        timeout_s = max(stream.guard.timeout_s for stream in streams)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await asyncio.gather(*(_end_stalled(stream) for stream in streams))


async def _end_stalled(stream: _Stream) -> None:
    await send_final_status(stream.context, SubscriberOverloadedError(stream.guard.reason()))
