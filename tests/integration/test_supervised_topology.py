"""`tickstock-server supervise`, as `./scripts/run` starts it: embedded Redis and PostgreSQL, one ingest
process and two gateways on one port. Events flow, a killed gateway is restarted, SIGTERM stops all."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import urllib.request
from pathlib import Path

import grpc
from polling import eventually
from server_process import free_port, free_ports_in_a_row, run_admin, server_env, wait_serving

from tickstock.v1 import event_service_pb2, event_service_pb2_grpc

# Embedded PostgreSQL and Redis, then ingest and two gateways one after another, on two busy cores.
_READY_TIMEOUT_S = 90.0


def _children(parent: int) -> dict[int, str]:
    """The server processes under `parent` by pid, with their role."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        roles = [item[len(b"TICKSTOCK_ROLE=") :] for item in environ if item.startswith(b"TICKSTOCK_ROLE=")]
        if ppid == parent and roles:
            found[int(entry.name)] = roles[0].decode()
    return found


async def _metrics(port: int) -> str:
    def fetch() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return str(response.read().decode())

    return await asyncio.to_thread(fetch)


async def _answers(port: int, timeout_s: float = 60.0) -> str:
    async with asyncio.timeout(timeout_s):
        while True:
            try:
                return await _metrics(port)
            except OSError:
                await asyncio.sleep(0.2)


async def _some_events(port: int, token: str) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = event_service_pb2_grpc.EventServiceStub(channel).StreamEvents(
            event_service_pb2.StreamEventsRequest(), metadata=(("authorization", f"Bearer {token}"),)
        )
        received = 0
        async with asyncio.timeout(30):
            while received < 5:
                response = await call.read()
                assert response is not grpc.aio.EOF
                if response.WhichOneof("payload") == "event_batch":
                    received += len(response.event_batch.events)
        call.cancel()
        return received


async def test_supervise_runs_ingest_and_gateways_restarts_a_killed_one_and_stops_them_all(
    tmp_path: Path,
) -> None:
    port = free_port()
    metrics = free_ports_in_a_row(3)
    env = server_env(
        port,
        TICKSTOCK_DATA_DIR=str(tmp_path / "data"),
        TICKSTOCK_METRICS__PORT=str(metrics),
        TICKSTOCK_SUPERVISOR__GATEWAYS="2",
        TICKSTOCK_SUPERVISOR__RESTART_MAX_S="1",
    )
    with tempfile.TemporaryFile() as output:
        supervisor = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tickstock_server", "supervise", env=env, stdout=output, stderr=output
        )
        try:
            killed, running = await _exercise(supervisor, port, metrics, env)
        except Exception as exc:
            output.seek(0)
            tail = output.read()[-6000:].decode(errors="replace")
            raise AssertionError(f"{exc!r}; the supervisor's output ends:\n{tail}") from exc
        finally:
            if supervisor.returncode is None:
                supervisor.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(supervisor.wait(), 90)
        output.seek(0)
        log = output.read().decode(errors="replace")

    assert code == 0, log[-3000:]
    assert f"pid {killed}" in log and "SIGKILL" in log  # the exit was logged
    assert not any(_alive(pid) for pid in running), "a child outlived the supervisor"
    assert _using(tmp_path / "data") == [], "the embedded Redis and PostgreSQL stop with the supervisor"


async def _exercise(
    supervisor: asyncio.subprocess.Process, port: int, metrics: int, env: dict[str, str]
) -> tuple[int, list[int]]:
    """Events flow through both gateways; a SIGKILLed one is replaced. The killed pid and the children
    running at the end."""
    await wait_serving(port, timeout_s=_READY_TIMEOUT_S)
    assert 'role="ingest"' in await _answers(metrics)
    for index in (1, 2):
        assert 'role="gateway"' in await _answers(metrics + index)
    token = await run_admin("create-key", "--user", "alice", env=env)
    assert await _some_events(port, token) >= 5

    children = _children(supervisor.pid)
    assert sorted(children.values()) == ["gateway", "gateway", "ingest"]
    killed = next(pid for pid, role in children.items() if role == "gateway")
    os.kill(killed, signal.SIGKILL)
    await eventually(
        lambda: killed not in _children(supervisor.pid) and len(_children(supervisor.pid)) == 3, 60, 0.2
    )
    for index in (1, 2):
        await _answers(metrics + index)  # the restarted gateway serves again
    assert await _some_events(port, token) >= 5
    return killed, list(_children(supervisor.pid))


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _using(directory: Path) -> list[str]:
    """Command lines of live processes that name `directory` (the embedded servers do)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(directory) in command:
            found.append(command)
    return found
