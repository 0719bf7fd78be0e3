"""PostgreSQL and Redis for the service: the configured servers, or embedded ones under the data directory."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
import redis.asyncio as aioredis
from pydantic import SecretStr

from tickstock_server.config import Settings
from tickstock_server.embedded import EmbeddedPostgres, EmbeddedRedis
from tickstock_server.storage.database import create_pool
from tickstock_server.storage.migrate import apply_migrations
from tickstock_server.storage.seed import load_seed_data
from tickstock_server.support.blocking_start import start_in_thread

_logger = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A migrated connection pool to PostgreSQL (an embedded one under `data_dir` when no URL is set).

    An embedded PostgreSQL that another process (the server) already runs is shared, not restarted, so
    administrative commands work while the server is up.
    """
    async with contextlib.AsyncExitStack() as stack:
        url = await _url_or_embedded(
            settings.database_url, EmbeddedPostgres(settings.data_dir / "postgres"), stack
        )
        pool = await create_pool(
            url, max_size=settings.database.pool_max_size, idle_close_s=settings.database.idle_close_s
        )
        stack.push_async_callback(pool.close)
        applied = await apply_migrations(pool)
        if applied:
            _logger.info("applied schema migrations %s", applied)
        if await load_seed_data(pool):
            _logger.info("loaded the seed symbols and universes")
        yield pool


@contextlib.asynccontextmanager
async def open_redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    """A connected Redis client (an embedded Redis under `data_dir` when no URL is set)."""
    async with contextlib.AsyncExitStack() as stack:
        url = await _url_or_embedded(settings.redis_url, EmbeddedRedis(settings.data_dir / "redis"), stack)
        client = aioredis.from_url(url)
        stack.push_async_callback(client.aclose)
        await client.ping()
        yield client


async def _url_or_embedded(
    url: SecretStr | None, embedded: EmbeddedPostgres | EmbeddedRedis, stack: contextlib.AsyncExitStack
) -> str:
    """The configured URL; else start `embedded` (stopped when `stack` closes) and return its URL."""
    if url is not None:
        return url.get_secret_value()
    await start_in_thread(stack, embedded.start, embedded.stop)
    return embedded.url
