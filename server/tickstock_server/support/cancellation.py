"""Cancellation that survives libraries which lose it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import Any

_logger = logging.getLogger(__name__)


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


async def cancel_and_wait(tasks: Collection[asyncio.Task[Any]], *, recancel_after_s: float = 5.0) -> None:
    """Cancel `tasks` and wait until all are done.

    A task still running `recancel_after_s` later is cancelled again, with a warning: some library lost
    its cancellation (see `raise_if_cancelling`), and waiting on would never end.
    """
    for task in tasks:
        task.cancel()
    pending = set(tasks)
    while pending:
        _, pending = await asyncio.wait(pending, timeout=recancel_after_s)
        for task in pending:
            _logger.warning(
                "task %s still runs %.0f s after it was cancelled; cancelling it again",
                task.get_name(),
                recancel_after_s,
            )
            task.cancel()
