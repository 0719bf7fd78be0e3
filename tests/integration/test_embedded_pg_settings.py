"""The embedded PostgreSQL starts without the processes a small single-host database does not use."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from tickstock_server.embedded import EmbeddedPostgres


async def settings_and_processes(directory: Path) -> tuple[str, str, list[str]]:
    server = EmbeddedPostgres(directory)
    await asyncio.to_thread(server.start)
    try:
        conn = await asyncpg.connect(server.url)
        try:
            io_method = await conn.fetchval("SHOW io_method")
            replication_workers = await conn.fetchval("SHOW max_logical_replication_workers")
            processes = await conn.fetch("SELECT DISTINCT backend_type FROM pg_stat_activity")
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(server.stop)
    return io_method, replication_workers, sorted(row["backend_type"] for row in processes)


async def test_a_new_cluster_runs_without_io_workers_or_a_logical_replication_launcher(
    tmp_path: Path,
) -> None:
    # Act
    io_method, replication_workers, processes = await settings_and_processes(tmp_path / "postgres")

    # Assert
    assert (io_method, replication_workers) == ("sync", "0")
    assert "io worker" not in processes
    assert "logical replication launcher" not in processes
    assert "client backend" in processes


async def test_a_cluster_made_without_the_settings_gets_them_at_its_next_start(tmp_path: Path) -> None:
    # Arrange: a cluster as an older version left it (no settings file, no include line).
    directory = tmp_path / "postgres"
    await settings_and_processes(directory)
    (directory / "tickstock.conf").unlink()
    main = directory / "postgresql.conf"
    main.write_text(
        "".join(line for line in main.read_text().splitlines(keepends=True) if "tickstock" not in line)
    )

    # Act
    io_method, replication_workers, processes = await settings_and_processes(directory)

    # Assert
    assert (io_method, replication_workers) == ("sync", "0")
    assert "io worker" not in processes
    assert main.read_text().count("include_if_exists 'tickstock.conf'") == 1


async def test_an_operators_alter_system_still_overrides_the_settings(tmp_path: Path) -> None:
    # Arrange
    directory = tmp_path / "postgres"
    server = EmbeddedPostgres(directory)
    await asyncio.to_thread(server.start)
    try:
        conn = await asyncpg.connect(server.url)
        try:
            await conn.execute("ALTER SYSTEM SET io_method = 'worker'")
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(server.stop)

    # Act
    io_method, _, processes = await settings_and_processes(directory)

    # Assert
    assert io_method == "worker"
    assert "io worker" in processes
