"""The real server with TLS everywhere: mutual TLS on the gRPC port, and Envoy serving browsers over
https and speaking TLS, with its own client certificate, to the server."""

from __future__ import annotations

import asyncio
import ssl
import sys
import tempfile
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from polling import eventually
from server_process import free_port, run_admin, server_env, terminate, wait_listening
from throwaway_ca import ThrowawayCa

from tickstock_client import AsyncClient, UnavailableError, tls_credentials


async def test_tls_clients_are_served_directly_and_through_envoy_and_plaintext_is_refused(
    pg_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    ca = ThrowawayCa(tmp_path)
    server, browser, envoy_client, alice = ca.server(), ca.server("browser"), ca.client("envoy"), ca.client()
    port, web_port = free_port(), free_port()
    env = server_env(
        port,
        TICKSTOCK_DATA_DIR=str(tmp_path / "data"),
        TICKSTOCK_DATABASE_URL=pg_database_url,
        TICKSTOCK_REDIS_URL=redis_url,
        TICKSTOCK_GRPC__TLS_CERT_FILE=str(server.cert_file),
        TICKSTOCK_GRPC__TLS_KEY_FILE=str(server.key_file),
        TICKSTOCK_GRPC__TLS_CLIENT_CA_FILE=str(ca.cert_file),
        TICKSTOCK_WEB__ENABLED="true",
        TICKSTOCK_WEB__PORT=str(web_port),
        TICKSTOCK_WEB__TLS_CERT_FILE=str(browser.cert_file),
        TICKSTOCK_WEB__TLS_KEY_FILE=str(browser.key_file),
        TICKSTOCK_WEB__UPSTREAM_CA_FILE=str(ca.cert_file),
        TICKSTOCK_WEB__UPSTREAM_CERT_FILE=str(envoy_client.cert_file),
        TICKSTOCK_WEB__UPSTREAM_KEY_FILE=str(envoy_client.key_file),
    )
    key = await run_admin("create-key", "--user", "alice", env=env)
    target = f"localhost:{port}"
    trust = tls_credentials(ca_file=ca.cert_file, cert_file=alice.cert_file, key_file=alice.key_file)
    # An empty grpc-web frame: HealthCheckRequest{} for the whole server.
    grpc_web = urllib.request.Request(
        f"https://localhost:{web_port}/grpc.health.v1.Health/Check",
        data=b"\x00\x00\x00\x00\x00",
        headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1"},
    )
    browser_trust = ssl.create_default_context(cafile=str(ca.cert_file))
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
            await wait_listening(web_port)
            body = await asyncio.to_thread(
                lambda: urllib.request.urlopen(grpc_web, timeout=5, context=browser_trust).read()
            )
        finally:
            await terminate(process, output)

    assert symbols  # an authenticated call over mutual TLS
    assert body.startswith(b"\x00\x00\x00\x00\x02\x08\x01")  # HealthCheckResponse{SERVING} via Envoy
    assert b"grpc-status:0" in body
