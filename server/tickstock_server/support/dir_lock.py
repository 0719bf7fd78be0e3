"""An exclusive lock on a directory that a SIGKILLed owner cannot leave behind.

`flock` locks belong to the open file, so the kernel releases them when the owning process dies, however
it dies; a stale lock file on disk means nothing. The file holds the owner's pid, for the error message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from tickstock_server.errors import EmbeddedServerError


class DirectoryLock:
    """Held by at most one process at a time (and one holder per process)."""

    def __init__(self, directory: Path, name: str = "owner.lock") -> None:
        self._path = directory / name
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise EmbeddedServerError naming the process that holds it."""
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise EmbeddedServerError(
                f"{self._path.parent} is in use by another running process (pid {owner}); "
                "stop it, or give this one a data directory of its own"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Let the lock go (no-op when not held)."""
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases the flock
            self._fd = None
