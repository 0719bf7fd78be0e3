"""A real `tickstock-server` process for tests: free ports, its environment, admin commands, and a
running server that is SERVING before the test goes on and is stopped with SIGTERM after it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_ports_in_a_row(count: int) -> int:
    """The first of `count` consecutive free ports (a supervisor puts its gateways' metrics above its own)."""
    while True:
        first = free_port()
        if first + count > 65536:
            continue
        probes = [socket.socket() for _ in range(count - 1)]
        try:
            for offset, probe in enumerate(probes, start=1):
                probe.bind(("127.0.0.1", first + offset))
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
        return first


def sigint_as_in_a_terminal() -> None:
    """`preexec_fn` of a child that a test interrupts: SIGINT unblocked and at its default, as a shell's
    foreground job has it. A test worker process may have it ignored or blocked, which a child inherits:
    then a Ctrl-C test waits forever."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def server_env(port: int, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKSTOCK_")}
    env.update(
        TICKSTOCK_GRPC__HOST="127.0.0.1",
        TICKSTOCK_GRPC__PORT=str(port),
        TICKSTOCK_FEED__SYMBOLS="40",
        TICKSTOCK_FEED__RATE_PER_S="4000",
        TICKSTOCK_GRPC__SHUTDOWN_GRACE_S="2",
        TICKSTOCK_METRICS__PORT=str(free_port()),
        # Envoy has tests of its own (and one real-process test below); the others start without it.
        TICKSTOCK_WEB__ENABLED="false",
        TICKSTOCK_WEB__PORT="0",
        TICKSTOCK_WEB__ADMIN_PORT="0",
    )
    env.update(settings)
    return env


def topology_settings(database_url: str, redis_url: str, prefix: str) -> dict[str, str]:
    """What an ingest process and its gateways share: the servers, the key prefixes, no simulator."""
    return {
        "TICKSTOCK_DATABASE_URL": database_url,
        "TICKSTOCK_REDIS_URL": redis_url,
        "TICKSTOCK_DELIVERY__STREAM_KEY_PREFIX": prefix,
        "TICKSTOCK_PATTERNS__KEY_PREFIX": prefix + "patterns:",
        "TICKSTOCK_PATTERNS__SIMULATOR": "off",
    }


async def run_admin(*args: str, env: Mapping[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tickstock_server", *args, env=dict(env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode().strip()


async def wait_serving(port: int, timeout_s: float = READY_TIMEOUT_S) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            try:
                response = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            assert asyncio.get_running_loop().time() < deadline, "server did not become SERVING"
            await asyncio.sleep(0.2)


@asynccontextmanager
async def serving(env: Mapping[str, str], port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    # The output goes to a file, not a pipe nobody reads (a full pipe would block the server's logging),
    # and its tail explains a server that never became ready.
    with tempfile.TemporaryFile() as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tickstock_server", env=dict(env), stdout=output, stderr=output,
        )  # fmt: skip
        try:
            try:
                await wait_serving(port)
            except AssertionError as exc:
                output.seek(0)
                raise AssertionError(f"{exc}; its output ends:\n{output.read()[-4000:].decode()}") from exc
            yield process
        finally:
            await terminate(process, output)


async def terminate(process: asyncio.subprocess.Process, output: IO[bytes]) -> None:
    """SIGTERM `process` and wait for it.

    One still running after `STOP_TIMEOUT_S` is killed, and the tail of its output (where the server logs
    what its shutdown waits for) fails the test.
    """
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError as exc:
        process.kill()
        await process.wait()
        output.seek(0)
        tail = output.read()[-6000:].decode(errors="replace")
        stalled = f"the server did not stop within {STOP_TIMEOUT_S} s; its output ends:\n{tail}"
        raise AssertionError(stalled) from exc


async def wait_listening(port: int, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:`port` (Envoy starts after SERVING)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            assert asyncio.get_running_loop().time() < deadline, f"nothing listens on port {port}"
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return


@dataclass
class Started:
    """A server process and the file its output goes to."""

    process: asyncio.subprocess.Process
    output: IO[bytes]

    async def logged(self, text: str, timeout_s: float = 30.0) -> None:
        """Wait until the process has written `text`."""
        async with asyncio.timeout(timeout_s):
            while True:
                self.output.seek(0)
                if text.encode() in self.output.read():
                    return
                await asyncio.sleep(0.1)


@asynccontextmanager
async def started(env: Mapping[str, str]) -> AsyncIterator[Started]:
    """A server process without a readiness check (a gateway waits for its ingest's epoch; an ingest
    process has no gRPC port); stopped like `serving`."""
    with tempfile.TemporaryFile() as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tickstock_server", env=dict(env), stdout=output, stderr=output
        )
        try:
            yield Started(process, output)
        finally:
            await terminate(process, output)
