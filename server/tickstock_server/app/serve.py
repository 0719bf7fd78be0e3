"""Runs one role of the service: builds its components, starts them in order, stops them in reverse.

- `all`: everything in one process (`gateway_role.start_all_in_one`).
- `ingest`: the feed, detection, bars and the event stream's writer; no gRPC port (`ingest_role`).
- `gateway`: every gRPC service, fed by the event stream (`gateway_role.start_gateway`).

Every component enters one `AsyncExitStack`, so shutdown is the reverse of start by construction: the
gRPC server (health NOT_SERVING, rotation hints to every stream, the grace period), then Envoy, the feed
(its last bars go to the writer), the pattern side, the bar writer and the event stream. Background work
runs in one TaskGroup: a task that fails stops the service the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from tickstock_server.app.backends import open_database, open_redis
from tickstock_server.config import Settings
from tickstock_server.support.stall_report import report_slow_shutdown

_logger = logging.getLogger(__name__)

_STALL_REPORT_S = 10.0
"""Seconds past the shutdown grace period after which the tasks a shutdown still waits for are logged."""


async def serve(
    settings: Settings, stop: asyncio.Event, on_ready: Callable[[int], None] | None = None
) -> None:
    """Run this process's role until `stop` is set, then shut down gracefully (see the module docstring).

    `on_ready` gets the gRPC port once the process serves (0 for the ingest role, which has none).
    A shutdown that takes longer than the grace period and `_STALL_REPORT_S` logs what it waits for.
    """
    after_s = settings.grpc.shutdown_grace_s + _STALL_REPORT_S
    stall_report = asyncio.create_task(report_slow_shutdown(stop, after_s), name="shutdown-stall-report")
    try:
        await _serve_until_stopped(settings, stop, on_ready)
    finally:
        stall_report.cancel()
    _logger.info("stopped")


async def _serve_until_stopped(
    settings: Settings, stop: asyncio.Event, on_ready: Callable[[int], None] | None
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        # A stop during start-up (a gateway still waiting for the ingest's first epoch) cancels it; the
        # stack then stops whatever had started.
        starting = asyncio.ensure_future(_start(settings, stack))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not starting.done():
                starting.cancel()
                await asyncio.wait([starting])  # it leaves the stack consistent before it unwinds
        if starting.cancelled():
            _logger.info("stopped while starting")
            return
        port = starting.result()
        if on_ready is not None:
            on_ready(port)
        await stop.wait()
        _logger.info("shutting down")


async def _start(settings: Settings, stack: contextlib.AsyncExitStack) -> int:
    pool = await stack.enter_async_context(open_database(settings))
    redis_client = await stack.enter_async_context(open_redis(settings))
    # Each role's module is imported only by its own process: the ingest's never loads gRPC, protovalidate
    # or the servicers (about 20 MB resident).
    if settings.role == "ingest":
        from tickstock_server.app.ingest_role import start_ingest

        return await start_ingest(settings, stack, pool, redis_client)
    from tickstock_server.app.gateway_role import start_all_in_one, start_gateway

    if settings.role == "gateway":
        return await start_gateway(settings, stack, pool, redis_client)
    return await start_all_in_one(settings, stack, pool, redis_client)
