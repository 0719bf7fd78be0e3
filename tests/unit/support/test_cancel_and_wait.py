"""A task that swallowed its cancellation is cancelled again until it ends, and a shutdown that stalls
says which tasks it waits for and where they are suspended."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tickstock_server.support.cancellation import cancel_and_wait
from tickstock_server.support.stall_report import pending_tasks, report_slow_shutdown


async def _swallows_one_cancellation(swallowed: list[int]) -> None:
    """Loses the first cancellation, as a library call that drops it would, then sleeps on."""
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        swallowed.append(1)
        asyncio.current_task().uncancel()  # type: ignore[union-attr]
    await asyncio.sleep(60)


async def test_a_task_that_lost_its_cancellation_is_cancelled_again(caplog: pytest.LogCaptureFixture) -> None:
    swallowed: list[int] = []
    task = asyncio.create_task(_swallows_one_cancellation(swallowed), name="stubborn")
    await asyncio.sleep(0)

    await asyncio.wait_for(cancel_and_wait([task], recancel_after_s=0.05), 5)

    assert task.cancelled()
    assert swallowed == [1]
    assert "task stubborn still runs" in caplog.text


async def test_tasks_that_honour_cancellation_end_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    tasks = [asyncio.create_task(asyncio.sleep(60)) for _ in range(3)]
    await asyncio.sleep(0)

    await cancel_and_wait(tasks, recancel_after_s=0.05)

    assert all(task.cancelled() for task in tasks)
    assert "still runs" not in caplog.text


async def _parked(event: asyncio.Event) -> None:
    await event.wait()


async def test_the_pending_tasks_are_named_with_the_frame_they_wait_in() -> None:
    release = asyncio.Event()
    task = asyncio.create_task(_parked(release), name="parked-task")
    await asyncio.sleep(0)

    lines = pending_tasks(exclude=asyncio.current_task())
    release.set()
    await task

    assert [line for line in lines if line.startswith("parked-task: ")] == [
        f"parked-task: {__file__}:{_parked.__code__.co_firstlineno + 1} in _parked"
    ]


async def test_a_slow_shutdown_is_reported_only_after_the_stop(caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()
    caplog.set_level(logging.WARNING)
    report = asyncio.create_task(report_slow_shutdown(stop, 0.05))
    await asyncio.sleep(0.2)
    before_stop = caplog.text
    stop.set()
    await asyncio.sleep(0.2)
    report.cancel()

    assert before_stop == ""
    assert "shutdown is still waiting after another 0 s" in caplog.text
