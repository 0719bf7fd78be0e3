"""raise_if_cancelling: a cancellation a library dropped still stops the loop."""

from __future__ import annotations

import asyncio
import contextlib

from tickstock_server.support.cancellation import raise_if_cancelling


async def dropping_call() -> None:
    """Stands for Python 3.11's wait_for when a cancel races with completion: the CancelledError is lost."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(10)


async def test_a_loop_whose_library_drops_the_cancel_still_ends_cancelled() -> None:
    # Arrange
    calls = 0

    async def loop() -> None:
        nonlocal calls
        while True:
            await dropping_call()
            calls += 1
            raise_if_cancelling()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)

    # Act
    task.cancel()
    await asyncio.wait((task,), timeout=5)

    # Assert
    assert task.cancelled()
    assert calls == 1


async def test_a_timeout_that_fired_is_not_mistaken_for_a_cancel() -> None:
    # Arrange: asyncio.timeout cancels the task internally, then withdraws the request.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(0.001):
            await asyncio.sleep(10)

    # Act / Assert: no CancelledError
    raise_if_cancelling()
