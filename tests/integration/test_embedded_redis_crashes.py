"""The embedded Redis keeps its data through crashes: an append-only file, one server per directory, and
an orphan left by a killed owner shut down (writing its data) before a new server starts there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from tickstock_server.embedded import EmbeddedRedis
from tickstock_server.errors import EmbeddedServerError

# A process that starts the embedded Redis, writes a key after its last snapshot, and waits to be killed.
_OWNER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import redis
    from tickstock_server.embedded import EmbeddedRedis
    server = EmbeddedRedis(Path(sys.argv[1]))
    server.start()
    redis.Redis.from_url(server.url).set("written", "before the crash")
    print(server.url, flush=True)
    time.sleep(600)
    """
)


@contextmanager
def _running(directory: Path) -> Iterator[redis.Redis]:
    server = EmbeddedRedis(directory)
    server.start()
    client = redis.Redis.from_url(server.url)
    try:
        yield client
    finally:
        client.close()
        server.stop()


def _redis_pids(directory: Path) -> set[int]:
    """Redis servers whose command line names `directory` (each runs with ``--dir <directory>``)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
                status = (entry / "status").read_text()
            except OSError:
                continue
            if b"redis-server" in command and str(directory).encode() in command and "\tZ" not in status:
                pids.add(int(entry.name))
    return pids


def test_a_second_server_on_a_directory_in_use_is_refused(tmp_path: Path) -> None:
    with _running(tmp_path / "redis") as client:
        with pytest.raises(
            EmbeddedServerError, match=f"in use by another running process \\(pid {os.getpid()}"
        ):
            EmbeddedRedis(tmp_path / "redis").start()
        assert client.ping() is True  # the first one is untouched


def test_the_orphan_of_a_killed_owner_is_stopped_with_its_data_before_a_new_server_starts(
    tmp_path: Path,
) -> None:
    directory = (tmp_path / "redis").resolve()
    with subprocess.Popen([sys.executable, "-c", _OWNER, str(directory)], stdout=subprocess.PIPE) as owner:
        assert owner.stdout is not None and owner.stdout.readline()  # serving, and the key is written
        orphans = _redis_pids(directory)
        owner.send_signal(signal.SIGKILL)
    assert len(orphans) == 1 and _redis_pids(directory) == orphans  # Redis outlived its owner

    with _running(directory) as client:
        value = client.get("written")
        running = _redis_pids(directory)

    assert value == b"before the crash"
    assert len(running) == 1 and running.isdisjoint(orphans)  # the orphan is gone, one server remains


def test_writes_survive_a_killed_redis_through_the_append_only_file(tmp_path: Path) -> None:
    directory = (tmp_path / "redis").resolve()
    server = EmbeddedRedis(directory)
    server.start()
    try:
        redis.Redis.from_url(server.url).set("written", "before the crash")
        time.sleep(1.5)  # appendfsync everysec: on disk within a second
        for pid in _redis_pids(directory):
            os.kill(pid, signal.SIGKILL)
    finally:
        server.stop()

    with _running(directory) as client:
        assert client.get("written") == b"before the crash"


def test_a_directory_with_only_snapshots_keeps_its_data_and_gains_an_append_only_file(tmp_path: Path) -> None:
    directory = (tmp_path / "redis").resolve()
    with _running(directory) as client:
        client.set("snapshotted", "yes")
        client.config_set("appendonly", "no")  # as an earlier version ran it: snapshots only
        client.save()
    (directory / "appendonly.aof").unlink()

    with _running(directory) as client:
        value = client.get("snapshotted")
        aof_enabled = client.config_get("appendonly")
        time.sleep(0.5)  # the rewrite runs in the background

    assert value == b"yes"
    assert aof_enabled == {"appendonly": "yes"}
    assert (directory / "appendonly.aof").stat().st_size > 0
