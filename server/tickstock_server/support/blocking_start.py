"""Starting a server whose start blocks (Envoy, an embedded Redis or PostgreSQL) without leaking it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


async def start_in_thread(
    stack: contextlib.AsyncExitStack, start: Callable[[], None], stop: Callable[[], None]
) -> None:
    """Run the blocking `start` in a thread; `stop` runs when `stack` closes.

    A cancelled caller cannot interrupt the thread: `stop` then waits for `start` to end, so a server
    that started meanwhile is stopped rather than left running as an orphan.
    """
    starting = asyncio.ensure_future(asyncio.to_thread(start))
    stack.push_async_callback(_stop_once_started, starting, stop)
    await asyncio.shield(starting)


async def _stop_once_started(starting: asyncio.Future[None], stop: Callable[[], None]) -> None:
    await asyncio.wait([starting])
    if not starting.cancelled() and starting.exception() is None:  # a failed start cleans up after itself
        await asyncio.to_thread(stop)
