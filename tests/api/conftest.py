"""Fixtures of the in-process API tests: servers started per test and stopped after it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from api_server import ApiServer, ServerFactory, start_server, stop_server
from backtest_api import Harness, running_every_service


@pytest.fixture
async def start_api_server() -> AsyncIterator[ServerFactory]:
    """Start servers with chosen limits and extra servicers; all are stopped at the end of the test."""
    started: list[ApiServer] = []

    async def start(**options: Any) -> ApiServer:
        api = await start_server(**options)
        started.append(api)
        return api

    yield start
    for api in started:
        await stop_server(api)


@pytest.fixture
async def api(start_api_server: ServerFactory) -> ApiServer:
    """A server with default limits."""
    server: ApiServer = await start_api_server()
    return server


@pytest.fixture
async def every_service(start_api_server: ServerFactory) -> AsyncIterator[Harness]:
    """A server with every service: events, patterns, universes, bars and backtests."""
    async with running_every_service(start_api_server) as harness:
        yield harness
