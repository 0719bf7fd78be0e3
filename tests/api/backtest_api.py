"""BacktestService in a test server over the memory store and publisher, with the producer played by the
test through `BacktestJobs` (`apply_progress`, `apply_outcome`)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from api_server import ApiServer, ServerFactory

from tickstock.v1 import backtest_service_pb2_grpc
from tickstock_server.adapters.memory.backtests import MemoryBacktestRequests, MemoryBacktestStore
from tickstock_server.adapters.memory.bars import MemoryBarReader
from tickstock_server.api.backtest_service import BacktestServiceServicer
from tickstock_server.api.market_data_service import MarketDataServiceServicer
from tickstock_server.backtests.config import BacktestJobsConfig
from tickstock_server.backtests.jobs import BacktestJobs

BACKTEST_SERVICE = "tickstock.v1.BacktestService"
NOW_NS = 1_767_700_800_000_000_000  # 2026-01-06T12:00:00Z: the jobs' clock starts here, 1 ms per reading
MAX_WATCHERS = 2
Metadata = tuple[tuple[str, str], ...]
Stub = backtest_service_pb2_grpc.BacktestServiceStub


@dataclass
class Harness:
    api: ApiServer
    jobs: BacktestJobs
    store: MemoryBacktestStore
    publisher: MemoryBacktestRequests
    stub: Stub
    alice: Metadata
    bob: Metadata


@contextlib.asynccontextmanager
async def running_backtests(
    start_api_server: ServerFactory,
    wrap: Callable[[BacktestServiceServicer], object] = lambda servicer: servicer,
    *,
    store: MemoryBacktestStore | None = None,
    max_in_flight: int = BacktestJobsConfig().max_in_flight,
    **server_options: Any,
) -> AsyncIterator[Harness]:
    """A server with BacktestService on a clock from `NOW_NS`, its jobs' writer and dispatcher running,
    and a second user.

    `wrap` may put a servicer of the test's around the real one; `store` replaces the memory store;
    `server_options` go to `start_server` (its `extra_servicers` are served beside BacktestService).
    """
    store, publisher = store or MemoryBacktestStore(), MemoryBacktestRequests()
    jobs = BacktestJobs(
        store=store,
        publisher=publisher,
        config=BacktestJobsConfig(
            progress_write_interval_s=0.01, max_watchers_per_user=MAX_WATCHERS, max_in_flight=max_in_flight
        ),
        clock_ns=itertools.count(NOW_NS, 1_000_000).__next__,
    )
    writer = asyncio.create_task(jobs.run())
    dispatcher = asyncio.create_task(jobs.run_dispatcher())
    extra = {**server_options.pop("extra_servicers", {})}
    extra[BACKTEST_SERVICE] = wrap(BacktestServiceServicer(backtests=jobs.service))
    api: ApiServer = await start_api_server(extra_servicers=extra, **server_options)
    bob = await api.keys.create("bob")
    try:
        yield Harness(
            api=api,
            jobs=jobs,
            store=store,
            publisher=publisher,
            stub=backtest_service_pb2_grpc.BacktestServiceStub(api.channel),
            alice=api.metadata,
            bob=(("authorization", f"Bearer {bob.token}"),),
        )
    finally:
        for task in (writer, dispatcher):
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def running_every_service(
    start_api_server: ServerFactory, **server_options: Any
) -> AsyncIterator[Harness]:
    """`running_backtests` with every other service too: events, patterns, universes and bars."""
    bars = MarketDataServiceServicer(bars=MemoryBarReader([]), market_clock_ns=lambda: 1_767_700_800 * 10**9)
    async with running_backtests(
        start_api_server,
        patterns=True,
        universe_service=True,
        extra_servicers={"tickstock.v1.MarketDataService": bars},
        **server_options,
    ) as harness:
        yield harness
