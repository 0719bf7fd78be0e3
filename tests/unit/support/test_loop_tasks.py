"""The asyncio task gauge: counts the loop's unfinished tasks at scrape time, from another thread."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, generate_latest

from tickstock_server.metrics import ServiceCollector
from tickstock_server.support.loop_tasks import LoopTasks


def _scrape(tasks: LoopTasks) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector([tasks]))
    return generate_latest(registry).decode()


async def test_counts_unfinished_tasks_and_forgets_finished_ones() -> None:
    tasks = LoopTasks(asyncio.get_running_loop())
    before = tasks.metric_samples()[0].value
    release = asyncio.Event()
    waiting = [asyncio.create_task(release.wait()) for _ in range(5)]
    await asyncio.sleep(0)

    assert tasks.metric_samples()[0].value == before + 5
    release.set()
    await asyncio.gather(*waiting)
    assert tasks.metric_samples()[0].value == before


async def test_scrape_from_the_metrics_thread_reads_the_serving_loop() -> None:
    tasks = LoopTasks(asyncio.get_running_loop())
    release = asyncio.Event()
    waiting = [asyncio.create_task(release.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    expected = len(asyncio.all_tasks())

    text = await asyncio.to_thread(_scrape, tasks)

    assert f"tickstock_asyncio_tasks {expected}.0" in text
    release.set()
    await asyncio.gather(*waiting)
