"""Ending a stream from outside its handler, with a status of our choosing."""

from __future__ import annotations

import asyncio
import contextlib

import grpc

from tickstock_server.api.errors import status_for
from tickstock_server.api.interceptors import Context


async def end_stream(task: asyncio.Task[object], context: Context, error: Exception) -> None:
    """Stop the handler running in `task` and send `error`'s status to the client.

    The task is cancelled first, so its subscription and per-user slot are released even while the
    status waits for a client that reads nothing; the status still goes out before the handler could
    send one of its own.
    """
    task.cancel()
    await send_final_status(context, error)


async def send_final_status(context: Context, error: Exception) -> None:
    """End the call with `error`'s status, unless it has ended; its handler must be cancelled already."""
    if context.done():
        return  # the call ended on its own meanwhile
    # The handler may be aborting the call itself at this very moment (UsageError): either status is final.
    with contextlib.suppress(grpc.aio.AbortError, grpc.aio.UsageError):
        # Present on aio contexts since grpcio 1.38; missing from grpc-stubs.
        await context.abort_with_status(status_for(error))  # type: ignore[attr-defined]
