"""Finds and stops an embedded Redis whose owner died.

The server records its pid and socket in a state file of its directory, and a later start that holds
the directory's lock shuts down what that file names.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import redis

_logger = logging.getLogger(__name__)

_ORPHAN_STOP_TIMEOUT_S = 30.0


def write_state(path: Path, pid: int, socket_path: Path) -> None:
    """Record the running server's pid and socket in `path`."""
    path.write_text(json.dumps({"pid": pid, "socket": str(socket_path)}))


def stop_orphan(path: Path) -> None:
    """Shut down the Redis the state file `path` names, if it still runs, and remove the file.

    Call only while holding the directory's lock: the file's writer is then gone, and a server it
    names is an orphan. Redis writes its data on a ``SHUTDOWN``; one that does not exit in time is killed.
    """
    try:
        state = json.loads(path.read_text())
        pid, socket_path = int(state["pid"]), str(state["socket"])
    except FileNotFoundError:
        return
    except (ValueError, KeyError, TypeError):
        _logger.warning("ignoring the unreadable embedded Redis state file %s", path)
        path.unlink(missing_ok=True)
        return
    if _is_redis(pid):
        _logger.warning(
            "an embedded Redis (pid %d) outlived the process that started it; shutting it down so that "
            "it writes its data before a new one starts on the same directory",
            pid,
        )
        _shutdown(pid, socket_path)
    path.unlink()


def _is_redis(pid: int) -> bool:
    """True while `pid` is a live (not zombie) redis-server: a recorded pid may belong to another program."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return b"redis-server" in command and "\nState:\tZ" not in status


def _shutdown(pid: int, socket_path: str) -> None:
    client = redis.Redis(unix_socket_path=socket_path, socket_connect_timeout=1, socket_timeout=5)
    try:
        client.shutdown()
    except (redis.RedisError, OSError) as exc:  # the socket is gone: the signal still reaches it
        _logger.info("cannot reach the orphan's socket (%s); sending SIGTERM", type(exc).__name__)
        os.kill(pid, 15)
    finally:
        client.close()
    deadline = time.monotonic() + _ORPHAN_STOP_TIMEOUT_S
    while _is_redis(pid):
        if time.monotonic() > deadline:
            _logger.warning("the orphan Redis (pid %d) did not stop; killing it", pid)
            os.kill(pid, 9)
            break
        time.sleep(0.05)
