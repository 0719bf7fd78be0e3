"""Cancellation that survives libraries which lose it."""

from __future__ import annotations

import asyncio


def raise_if_cancelling() -> None:
    """Raise CancelledError when the current task was cancelled but is still running.

    Python 3.11's `asyncio.wait_for` returns the inner result, and drops the cancellation, when the task
    is cancelled just as the inner awaitable completes. redis-py wraps every socket write in `wait_for`
    once a socket timeout is set, so a loop around Redis calls can miss `Task.cancel()` and run on:
    its TaskGroup, and whoever awaits it, then wait forever. Call this after each awaited call in such a
    loop; `Task.cancelling()` still counts the lost request (asyncio's own timeouts withdraw theirs).
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
