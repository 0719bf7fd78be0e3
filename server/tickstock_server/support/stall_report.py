"""Says what a slow shutdown is waiting for: the tasks still running, each with where it is suspended.

A process that does not stop after SIGTERM is otherwise a silent mystery: its supervisor kills it and
nothing tells which component ignored its cancellation or is stuck in a call.
"""

from __future__ import annotations

import asyncio
import logging

_logger = logging.getLogger(__name__)


def pending_tasks(exclude: asyncio.Task[object] | None = None) -> list[str]:
    """One line per unfinished task of the running loop: its name and the innermost suspended frame."""
    lines = []
    for task in sorted(asyncio.all_tasks(), key=lambda task: task.get_name()):
        if task is exclude or task.done():
            continue
        stack = task.get_stack()  # outermost first for a suspended coroutine
        where = (
            f"{stack[-1].f_code.co_filename}:{stack[-1].f_lineno} in {stack[-1].f_code.co_name}"
            if stack
            else "not started"
        )
        lines.append(f"{task.get_name()}: {where}")
    return lines


async def report_slow_shutdown(stop: asyncio.Event, after_s: float) -> None:
    """After `stop` is set, log the pending tasks every `after_s` seconds until cancelled."""
    await stop.wait()
    while True:
        await asyncio.sleep(after_s)
        tasks = pending_tasks(exclude=asyncio.current_task())
        _logger.warning(
            "shutdown is still waiting after another %.0f s; %d tasks run:\n  %s",
            after_s,
            len(tasks),
            "\n  ".join(tasks),
        )
