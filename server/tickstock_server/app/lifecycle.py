"""Start and stop helpers of the composition root.

Each runs one component on the shared TaskGroup and stops it when its `AsyncExitStack` unwinds, so
stopping is the reverse of starting by construction. Nothing here imports gRPC: the ingest role, which
serves none, loads this module (the gRPC server's helpers are in `gateway_role`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any

from tickstock_server.config import Settings
from tickstock_server.metrics import HealthChecks, ServiceCollector, start_metrics_server
from tickstock_server.support.cancellation import cancel_and_wait
from tickstock_server.support.gc_pauses import GcPauseRecorder
from tickstock_server.support.loop_lag import LoopLagProbe
from tickstock_server.support.loop_tasks import LoopTasks
from tickstock_server.support.metric_samples import Instrumented


@contextlib.asynccontextmanager
async def running(
    tasks: asyncio.TaskGroup,
    name: str,
    work: Coroutine[Any, Any, None],
    *,
    stopping: Callable[[], Awaitable[None] | None],
) -> AsyncIterator[None]:
    """Run `work` as task `name`; on exit call `stopping`, which makes the work finish, and wait for it."""
    task = tasks.create_task(work, name=name)
    try:
        yield
    finally:
        finishing = stopping()
        if finishing is not None:
            await finishing
        await asyncio.wait([task])  # its own failure, if any, is the TaskGroup's to report


@contextlib.asynccontextmanager
async def cancelled_on_exit(
    tasks: asyncio.TaskGroup, name: str, work: Coroutine[Any, Any, None]
) -> AsyncIterator[None]:
    """Run `work` as task `name` until the context exits, then cancel it and wait for it."""
    task = tasks.create_task(work, name=name)
    try:
        yield
    finally:
        await cancel_and_wait([task])


@contextlib.asynccontextmanager
async def feeding(
    tasks: asyncio.TaskGroup,
    pipeline: Coroutine[Any, Any, None],
    *,
    final_bars: Callable[[], Awaitable[None]],
) -> AsyncIterator[None]:
    """Run the feed pipeline; on exit stop it and hand the bars of the last minutes to the writer."""
    task = tasks.create_task(pipeline, name="pipeline")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait([task])
        with contextlib.suppress(RuntimeError):  # a writer that failed is closed already
            await final_bars()


@contextlib.contextmanager
def metrics_server(host: str, port: int, collector: ServiceCollector, health: HealthChecks) -> Iterator[None]:
    """Serve /metrics from `collector` and /health from `health` on `host:port` until the context exits."""
    server, _, _ = start_metrics_server(host, port, collector, health)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def serve_metrics(
    settings: Settings,
    stack: contextlib.AsyncExitStack,
    components: list[Instrumented],
    health: HealthChecks,
) -> None:
    """Serve this process's /metrics and /health (with the `role` label), when metrics are enabled."""
    # Last to start, so a supervisor can take an answering /metrics as "this process serves".
    if settings.metrics.enabled:
        gc_pauses = stack.enter_context(GcPauseRecorder())  # unhooked after the metrics server stops
        loop_lag = stack.enter_context(LoopLagProbe())
        tasks = LoopTasks(asyncio.get_running_loop())
        collector = ServiceCollector(
            [*components, gc_pauses, loop_lag, tasks], constant_labels={"role": settings.role}
        )
        stack.enter_context(metrics_server(settings.metrics.host, settings.metrics.port, collector, health))
