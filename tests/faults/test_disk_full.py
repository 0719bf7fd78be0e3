"""The Redis data directory runs out of space while clients stream: the ingest reports it (health,
metrics, logs), and once space returns the service recovers with nothing lost silently."""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_run import Figure, metric, now_s, watched
from owned_servers import OwnedRedis

FULL_S = 4.0
_SIZE = "16m"
"""The small filesystem: room for Redis' files while the test runs, once the filler is gone."""


@pytest.fixture
def small_disk_redis(tmp_path: Path) -> Iterator[OwnedRedis]:
    """An `OwnedRedis` whose data directory is a tmpfs of `_SIZE` (mounting needs root, as in CI)."""
    directory = tmp_path / "redis"
    directory.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={_SIZE}", "tmpfs", str(directory)],
        capture_output=True,
        check=False,
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem: {mount.stderr.decode().strip()}")
    redis = OwnedRedis(directory)
    try:
        redis.start()
        yield redis
    finally:
        redis.stop()
        subprocess.run(["umount", "--lazy", str(directory)], check=True)


def _fill(directory: Path) -> Path:
    """Take every free byte of `directory`'s filesystem with one file."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    chunk = 1 << 20
    try:
        while chunk:
            try:
                os.write(descriptor, b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                chunk //= 2
    finally:
        os.close(descriptor)
    return filler


async def test_a_full_redis_disk_is_reported_and_recovered_without_silent_loss(
    small_disk_redis: OwnedRedis, pg_database_url: str, figure: Figure
) -> None:
    redis = small_disk_redis
    async with watched(pg_database_url, redis.url) as watch:
        filler = await asyncio.to_thread(_fill, redis.dir)
        await asyncio.sleep(FULL_S)
        failures = await asyncio.to_thread(metric, watch.topology, "tickstock_event_store_failures_total")
        filler.unlink()
        end_s = now_s()
        await watch.recovered(end_s)
        dropped = await asyncio.to_thread(metric, watch.topology, "tickstock_event_store_dropped_total")
        logged = "event stream write failed" in watch.topology.ingest.tail(1_000_000)

    watch.assert_exactly_once()
    assert failures > 0 and logged, "the failed writes are counted and logged"
    assert watch.health.seen["ingest"] == ["SERVING", "NOT_SERVING", "SERVING"]
    watch.report(figure, "disk_full", end_s)
    figure("disk_full_write_failures", failures, "failures")
    figure("disk_full_dropped", dropped, "entries")
