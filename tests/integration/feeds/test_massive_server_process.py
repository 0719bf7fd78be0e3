"""The real server process on the Massive feed: a rejected key stops it with one clear line."""

from __future__ import annotations

import asyncio
import os
import sys

from fake_massive import FakeMassiveServer


async def test_server_with_a_rejected_massive_key_exits_with_a_clear_error(
    pg_database_url: str, redis_url: str
) -> None:
    async with FakeMassiveServer(api_key="the-right-key") as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TICKSTOCK_")}
        env.update(
            TICKSTOCK_DATABASE_URL=pg_database_url,
            TICKSTOCK_REDIS_URL=redis_url,
            TICKSTOCK_GRPC__HOST="127.0.0.1",
            TICKSTOCK_GRPC__PORT="0",
            TICKSTOCK_FEED__KIND="massive",
            TICKSTOCK_FEED__MASSIVE__API_KEY="a-wrong-key",
            TICKSTOCK_FEED__MASSIVE__HOST=fake.host,
            TICKSTOCK_FEED__MASSIVE__SECURE="false",
            TICKSTOCK_METRICS__ENABLED="false",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tickstock_server", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 1
    assert err.decode().strip().splitlines()[-1].startswith("error: Massive rejected the API key")
    assert "a-wrong-key" not in out.decode() + err.decode()
    assert [connection.auth_params for connection in fake.connections] == [["a-wrong-key"]]
