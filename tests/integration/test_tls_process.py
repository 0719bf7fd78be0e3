"""The real server with TLS configured: it serves TLS clients of its CA, and refuses plaintext ones."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from polling import eventually
from server_process import free_port, run_admin, server_env, terminate
from throwaway_ca import ThrowawayCa

from tickstock_client import AsyncClient, UnavailableError, tls_credentials


async def test_a_server_with_tls_settings_serves_tls_clients_and_refuses_plaintext(
    pg_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    ca = ThrowawayCa(tmp_path)
    issued = ca.server()
    port = free_port()
    env = server_env(
        port,
        TICKSTOCK_DATABASE_URL=pg_database_url,
        TICKSTOCK_REDIS_URL=redis_url,
        TICKSTOCK_GRPC__TLS_CERT_FILE=str(issued.cert_file),
        TICKSTOCK_GRPC__TLS_KEY_FILE=str(issued.key_file),
    )
    key = await run_admin("create-key", "--user", "alice", env=env)
    target, trust = f"localhost:{port}", tls_credentials(ca_file=ca.cert_file)
    with tempfile.TemporaryFile() as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tickstock_server", env=env, stdout=output, stderr=output
        )
        try:
            async with AsyncClient(target, api_key=key, credentials=trust) as client:

                async def serving() -> bool:
                    try:
                        return await client.health() == "serving"
                    except UnavailableError:
                        return False

                await eventually(serving, 30, 0.2)
                symbols = [symbol async for symbol in client.list_symbols()]
            async with AsyncClient(target, api_key=key, timeout=timedelta(seconds=3)) as plaintext:
                with pytest.raises(UnavailableError):
                    await plaintext.health()
        finally:
            await terminate(process, output)

    assert symbols  # an authenticated call over TLS
