"""docs/grpcurl.md cannot rot: every block runs against the real server, and every served RPC is in it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from guide_blocks import guide_blocks, run_block
from server_process import free_port, run_admin, server_env, serving

from tickstock_server.api.server import SERVICES


def test_the_guide_shows_every_served_rpc() -> None:
    text = "".join(guide_blocks())
    methods = {f"{service.full_name}/{method.name}" for service in SERVICES for method in service.methods}

    missing = sorted(m for m in methods if f"{m}\n" not in text and f"{m} " not in text)

    assert missing == []


async def test_every_block_of_the_guide_runs_against_the_real_server(
    pg_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = server_env(
        port,
        TICKSTOCK_DATA_DIR=str(tmp_path),
        TICKSTOCK_DATABASE_URL=pg_database_url,
        TICKSTOCK_REDIS_URL=redis_url,
        TICKSTOCK_PATTERNS__SIMULATOR="on",
    )
    setup, *blocks = guide_blocks()
    async with serving(env, port):
        key = await run_admin("create-key", "--user", "guide", env=env)
        shell_env = {
            **os.environ,
            "KEY": key,
            "ADDR": f"127.0.0.1:{port}",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
        results = [await asyncio.to_thread(run_block, setup, block, shell_env) for block in blocks]

    failures = [(block, r.stderr[-2000:]) for block, r in zip(blocks, results, strict=True) if r.returncode]
    assert failures == []
    assert len(blocks) == 15
