"""Start and stop helpers of the composition root.

Each runs one component on the shared TaskGroup and stops it when its `AsyncExitStack` unwinds, so
stopping is the reverse of starting by construction.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any

import grpc
from grpc_health.v1._async import HealthServicer

from tickstock_server.api.server import follow_health, set_serving
from tickstock_server.delivery.hub import SubscriptionHub
from tickstock_server.edge.embedded_envoy import EmbeddedEnvoy
from tickstock_server.metrics import HealthChecks, ServiceCollector, start_metrics_server
from tickstock_server.support.blocking_start import start_in_thread
from tickstock_server.support.cancellation import cancel_and_wait


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


@contextlib.asynccontextmanager
async def serving(
    server: grpc.aio.Server,
    health: HealthServicer,
    names: list[str],
    health_checks: dict[str, Callable[[], bool]],
    tasks: asyncio.TaskGroup,
    hub: SubscriptionHub,
    grace_s: float,
) -> AsyncIterator[None]:
    """Start the gRPC server and report its services SERVING; on exit stop it gracefully.

    Stopping: health turns NOT_SERVING (load balancers stop routing), every event stream gets a
    rotation hint with its resume token, and in-flight calls get `grace_s` seconds.
    """
    watchers = [
        tasks.create_task(follow_health(health, name, check), name=f"health {name}")
        for name, check in health_checks.items()
    ]
    await server.start()
    try:
        await set_serving(health, names, True)
        yield
    finally:
        await health.enter_graceful_shutdown()
        for watcher in watchers:
            watcher.cancel()
        hub.close()
        await server.stop(grace_s)


@contextlib.asynccontextmanager
async def envoy_running(envoy: EmbeddedEnvoy) -> AsyncIterator[None]:
    """Run Envoy until the context exits; a start cut short by cancellation still stops it."""
    async with contextlib.AsyncExitStack() as stack:
        await start_in_thread(stack, envoy.start, envoy.stop)
        yield


@contextlib.contextmanager
def metrics_server(host: str, port: int, collector: ServiceCollector, health: HealthChecks) -> Iterator[None]:
    """Serve /metrics from `collector` and /health from `health` on `host:port` until the context exits."""
    server, _, _ = start_metrics_server(host, port, collector, health)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
