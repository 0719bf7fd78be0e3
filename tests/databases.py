"""Throwaway PostgreSQL databases for tests, on a server the session provides."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg


@asynccontextmanager
async def fresh_database(postgres_url: str) -> AsyncIterator[str]:
    """URL of a new, empty database on the server of `postgres_url`, dropped on exit."""
    name = f"tickstock_test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield with_database(postgres_url, name)
        finally:
            # FORCE: a test that failed half-way may leave connections open.
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def with_database(url: str, database: str) -> str:
    """Return `url` naming `database` instead of its own."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))
