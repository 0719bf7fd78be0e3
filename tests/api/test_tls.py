"""TLS on the gRPC port: a good handshake, a wrong CA, plaintext, mutual TLS, expiry and reloading a
renewed certificate, with certificates from a throwaway CA (tests/throwaway_ca.py)."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from cli_runner import run_cli
from throwaway_ca import EXPIRED_AT, Issued, ThrowawayCa

from tickstock_client import AsyncClient, UnavailableError, tls_credentials
from tickstock_server.adapters.memory.api_keys import MemoryApiKeyStore
from tickstock_server.api.auth import create_auth_interceptor
from tickstock_server.api.auth_service import AuthServiceServicer
from tickstock_server.api.server import AUTH_SERVICE, create_server, set_serving
from tickstock_server.api.tls import ServerTls

_SHORT = timedelta(seconds=3)


@asynccontextmanager
async def _server(tls: ServerTls, plaintext_port: int | None = None) -> AsyncIterator[tuple[int, str]]:
    """A server with AuthService on a TLS port; yields its port and an API key."""
    keys = MemoryApiKeyStore()
    auth = create_auth_interceptor(keys)
    issued = await keys.create("alice")
    server, port, health = create_server(
        servicers={AUTH_SERVICE.full_name: AuthServiceServicer(keys=auth.keys)},
        auth=auth,
        host="127.0.0.1",
        port=0,
        max_connection_age_s=3600,
        tls=tls,
        plaintext_port=plaintext_port,
    )
    await server.start()
    await set_serving(health, [AUTH_SERVICE.full_name], True)
    try:
        yield port, issued.token
    finally:
        await server.stop(None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tls(server: Issued, client_ca: Path | None = None) -> ServerTls:
    return ServerTls(server.cert_file, server.key_file, client_ca)


async def test_a_client_that_trusts_the_ca_connects_and_calls(tmp_path: Path) -> None:
    ca = ThrowawayCa(tmp_path)
    async with _server(_tls(ca.server())) as (port, key):
        credentials = tls_credentials(ca_file=ca.cert_file)
        async with AsyncClient(f"localhost:{port}", api_key=key, credentials=credentials) as client:
            health = await client.health()
            session = await client.create_session_token()

    assert health == "serving"
    assert session.token.startswith("tss_")


async def test_a_client_that_trusts_another_ca_is_refused(tmp_path: Path) -> None:
    ca, other = ThrowawayCa(tmp_path / "ca"), ThrowawayCa(tmp_path / "other", "other-ca")
    async with _server(_tls(ca.server())) as (port, key):
        credentials = tls_credentials(ca_file=other.cert_file)
        async with AsyncClient(
            f"localhost:{port}", api_key=key, credentials=credentials, timeout=_SHORT
        ) as c:
            with pytest.raises(UnavailableError):
                await c.health()


async def test_a_plaintext_client_is_refused_on_a_tls_port(tmp_path: Path) -> None:
    ca = ThrowawayCa(tmp_path)
    async with (
        _server(_tls(ca.server())) as (port, key),
        AsyncClient(f"localhost:{port}", api_key=key, timeout=_SHORT) as client,
    ):
        with pytest.raises(UnavailableError):
            await client.health()


async def test_an_expired_server_certificate_is_refused(tmp_path: Path) -> None:
    ca = ThrowawayCa(tmp_path)
    async with _server(_tls(ca.server(expires=EXPIRED_AT))) as (port, key):
        credentials = tls_credentials(ca_file=ca.cert_file)
        async with AsyncClient(
            f"localhost:{port}", api_key=key, credentials=credentials, timeout=_SHORT
        ) as c:
            with pytest.raises(UnavailableError):
                await c.health()


async def test_mutual_tls_refuses_clients_without_a_certificate_of_the_client_ca(tmp_path: Path) -> None:
    ca, other = ThrowawayCa(tmp_path / "ca"), ThrowawayCa(tmp_path / "other", "other-ca")
    mine, foreign = ca.client("alice"), other.client("mallory")
    async with _server(_tls(ca.server(), client_ca=ca.cert_file)) as (port, key):
        target = f"localhost:{port}"
        with_cert = tls_credentials(ca_file=ca.cert_file, cert_file=mine.cert_file, key_file=mine.key_file)
        async with AsyncClient(target, api_key=key, credentials=with_cert) as client:
            health = await client.health()
        for credentials in (
            tls_credentials(ca_file=ca.cert_file),
            tls_credentials(ca_file=ca.cert_file, cert_file=foreign.cert_file, key_file=foreign.key_file),
        ):
            async with AsyncClient(target, api_key=key, credentials=credentials, timeout=_SHORT) as client:
                with pytest.raises(UnavailableError):
                    await client.health()

    assert health == "serving"


async def test_a_renewed_certificate_is_used_by_the_next_connection_without_a_restart(tmp_path: Path) -> None:
    old_ca, new_ca = ThrowawayCa(tmp_path / "old", "old-ca"), ThrowawayCa(tmp_path / "new", "new-ca")
    live = old_ca.server()
    async with _server(_tls(live)) as (port, key):
        target = f"localhost:{port}"
        async with AsyncClient(
            target, api_key=key, credentials=tls_credentials(ca_file=old_ca.cert_file)
        ) as c:
            before = await c.health()
        renewed = new_ca.server("renewed")
        for source, destination in ((renewed.key_file, live.key_file), (renewed.cert_file, live.cert_file)):
            os.replace(source, destination)  # as certificate tools do: each file swapped whole
        new_trust = tls_credentials(ca_file=new_ca.cert_file)
        async with AsyncClient(target, api_key=key, credentials=new_trust) as client:
            after = await client.health()
        old_trust = tls_credentials(ca_file=old_ca.cert_file)
        async with AsyncClient(target, api_key=key, credentials=old_trust, timeout=_SHORT) as client:
            with pytest.raises(UnavailableError):
                await client.health()

    assert before == after == "serving"


async def test_the_cli_connects_with_ca_and_client_certificate_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    ca = ThrowawayCa(tmp_path)
    mine = ca.client("alice")
    async with _server(_tls(ca.server(), client_ca=ca.cert_file)) as (port, key):
        monkeypatch.setenv("TICKSTOCK_API_KEY", key)
        code = await run_cli(
            "--target", f"localhost:{port}", "--ca", str(ca.cert_file),
            "--cert", str(mine.cert_file), "--cert-key", str(mine.key_file), "health",
        )  # fmt: skip
        half = await run_cli("--target", f"localhost:{port}", "--cert", str(mine.cert_file), "health")

    assert code == 0
    assert half == 2
    assert capfd.readouterr().out.splitlines()[0] == "serving"


async def test_a_plaintext_port_given_next_to_tls_serves_plaintext_while_the_tls_port_stays_tls(
    tmp_path: Path,
) -> None:
    ca, plaintext_port = ThrowawayCa(tmp_path), free_port()
    async with _server(_tls(ca.server()), plaintext_port) as (port, key):
        async with AsyncClient(f"localhost:{plaintext_port}", api_key=key) as client:
            plaintext = await client.health()
        async with AsyncClient(f"localhost:{port}", api_key=key, timeout=_SHORT) as client:
            with pytest.raises(UnavailableError):
                await client.health()

    assert plaintext == "serving"
