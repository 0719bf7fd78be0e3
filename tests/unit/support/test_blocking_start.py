"""A blocking start cut short by cancellation still stops what it started; a failed start is not stopped."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

from tickstock_server.support.blocking_start import start_in_thread


class _Server:
    def __init__(self, *, fail: bool = False) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.fail = fail
        self.calls: list[str] = []

    def start(self) -> None:
        self.entered.set()
        self.release.wait(10)
        if self.fail:
            raise OSError("cannot start")
        self.calls.append("started")

    def stop(self) -> None:
        self.calls.append("stopped")


async def test_a_start_cancelled_while_it_blocks_is_stopped_once_it_finishes() -> None:
    server = _Server()
    async with contextlib.AsyncExitStack() as stack:
        starting = asyncio.create_task(start_in_thread(stack, server.start, server.stop))
        await asyncio.to_thread(server.entered.wait, 10)
        starting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await starting
        server.release.set()  # the thread finishes the start after its caller gave up

    assert server.calls == ["started", "stopped"]


async def test_a_failed_start_is_not_stopped() -> None:
    server = _Server(fail=True)
    server.release.set()

    with pytest.raises(OSError, match="cannot start"):
        async with contextlib.AsyncExitStack() as stack:
            await start_in_thread(stack, server.start, server.stop)

    assert server.calls == []


async def test_a_started_server_stops_when_the_stack_closes() -> None:
    server = _Server()
    server.release.set()

    async with contextlib.AsyncExitStack() as stack:
        await start_in_thread(stack, server.start, server.stop)
        assert server.calls == ["started"]

    assert server.calls == ["started", "stopped"]
