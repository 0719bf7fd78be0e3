from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio

from tickstock_server.embedded import EmbeddedPostgres, EmbeddedRedis


async def test_embedded_postgres_starts_answers_and_stops(tmp_path: Path) -> None:
    # Arrange
    server = EmbeddedPostgres(tmp_path / "postgres")

    # Act
    await asyncio.to_thread(server.start)
    url = server.url
    try:
        conn = await asyncpg.connect(url)
        try:
            answer = await conn.fetchval("SELECT 1")
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(server.stop)

    # Assert
    assert answer == 1
    assert url.startswith("postgresql://postgres@/postgres?host=")
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()


async def test_embedded_postgres_restart_in_same_directory_keeps_data(tmp_path: Path) -> None:
    # Arrange
    first = EmbeddedPostgres(tmp_path / "postgres")
    await asyncio.to_thread(first.start)
    try:
        conn = await asyncpg.connect(first.url)
        try:
            await conn.execute("CREATE TABLE kept (value text); INSERT INTO kept VALUES ('still here')")
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(first.stop)

    # Act
    second = EmbeddedPostgres(tmp_path / "postgres")
    await asyncio.to_thread(second.start)
    try:
        conn = await asyncpg.connect(second.url)
        try:
            value = await conn.fetchval("SELECT value FROM kept")
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(second.stop)

    # Assert
    assert value == "still here"


async def test_handle_of_killed_process_does_not_keep_postgres_running(tmp_path: Path) -> None:
    # Arrange: a cluster whose handle list names a process that has exited, as after a crash.
    server = EmbeddedPostgres(tmp_path / "postgres")
    await asyncio.to_thread(server.start)
    await asyncio.to_thread(server.stop)
    exited = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await exited.wait()
    handles = tmp_path / "postgres" / ".handle_pids.json"
    handles.write_text(json.dumps([exited.pid]))

    # Act
    await asyncio.to_thread(server.start)
    await asyncio.to_thread(server.stop)

    # Assert
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()


async def test_embedded_redis_starts_answers_and_stops(tmp_path: Path) -> None:
    # Arrange
    server = EmbeddedRedis(tmp_path / "redis")

    # Act
    await asyncio.to_thread(server.start)
    url = server.url
    try:
        client = redis.asyncio.from_url(url)
        try:
            answer = await client.ping()
        finally:
            await client.aclose()
    finally:
        await asyncio.to_thread(server.stop)

    # Assert
    assert answer is True
    assert url.startswith("unix:///")
    assert url.endswith("/redis/redis.sock")
    with pytest.raises(RuntimeError):
        _ = server.url


async def test_stopped_embedded_redis_refuses_connections(tmp_path: Path) -> None:
    # Arrange
    server = EmbeddedRedis(tmp_path / "redis")
    await asyncio.to_thread(server.start)
    url = server.url

    # Act
    await asyncio.to_thread(server.stop)

    # Assert
    client = redis.asyncio.from_url(url)
    try:
        with pytest.raises(redis.ConnectionError):
            await client.ping()
    finally:
        await client.aclose()


async def test_embedded_redis_restart_in_same_directory_keeps_data(tmp_path: Path) -> None:
    # Arrange
    first = EmbeddedRedis(tmp_path / "redis")
    await asyncio.to_thread(first.start)
    try:
        client = redis.asyncio.from_url(first.url)
        try:
            await client.set("kept", "still here")
        finally:
            await client.aclose()
    finally:
        await asyncio.to_thread(first.stop)

    # Act
    second = EmbeddedRedis(tmp_path / "redis")
    await asyncio.to_thread(second.start)
    try:
        client = redis.asyncio.from_url(second.url)
        try:
            value = await client.get("kept")
        finally:
            await client.aclose()
    finally:
        await asyncio.to_thread(second.stop)

    # Assert
    assert value == b"still here"
