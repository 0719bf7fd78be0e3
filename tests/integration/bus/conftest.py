"""A client of the session's Redis for the bus adapters' tests (bytes replies; a module needing str
replies defines its own `client`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis_client = aioredis.from_url(redis_url)
    yield redis_client
    await redis_client.aclose()
