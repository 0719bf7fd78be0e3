"""Waiting for a condition that has no event to wait on: counters, subscriptions, other processes."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], timeout_s: float = 20.0, interval_s: float = 0.01
) -> None:
    """Poll `condition()` (sync or async) until it is true.

    Raises TimeoutError after `timeout_s`: a guard against a hang, not a timing assertion.
    """
    async with asyncio.timeout(timeout_s):
        while True:
            result = condition()
            if await result if inspect.isawaitable(result) else result:
                return
            await asyncio.sleep(interval_s)
