"""The event loop's task count, exported as the gauge ``tickstock_asyncio_tasks``.

A task that never ends (a stream whose cleanup was skipped, a forgotten background job) shows as a count
that keeps growing under steady load; the soak benchmark watches it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from tickstock_server.support.metric_samples import MetricKind, MetricSample

__all__ = ["LoopTasks"]


class LoopTasks:
    """Counts the unfinished tasks of one event loop when the metrics thread reads it; `Instrumented`."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Count the tasks of `loop` (the process's serving loop)."""
        self._loop = loop

    def metric_samples(self) -> Sequence[MetricSample]:
        """One gauge: the loop's unfinished tasks, read at scrape time (one pass over its task set)."""
        # `all_tasks` retries if the loop's thread changes the task set while it copies it.
        count = len(asyncio.all_tasks(self._loop))
        return [
            MetricSample(
                name="tickstock_asyncio_tasks",
                help="Unfinished asyncio tasks of the process's event loop.",
                kind=MetricKind.GAUGE,
                value=count,
            )
        ]
