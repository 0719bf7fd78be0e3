"""A browser that stops reading a busy stream does not grow Envoy's memory: Envoy's bounded buffers
and flow-control windows push back into the server, whose bounded queue then applies the
subscriber's slow-consumer policy (here CONFLATE, which keeps the stream open for the whole stall)."""

from __future__ import annotations

import asyncio
import socket
import struct
import urllib.request
from pathlib import Path

from server_process import free_port, run_admin, server_env, serving, wait_listening

from tickstock.v1 import event_service_pb2

STALL_S = 60
# Envoy's buffers for one stream are 512 KiB (browser side) and 1 MiB (server side, and the HTTP/2
# stream window): growth beyond a few MiB would mean it buffers what the browser does not read.
MAX_GROWTH_BYTES = 16 * 1024 * 1024


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def envoy_counters(admin_port: int, name_part: str) -> dict[str, int]:
    """Envoy's counters whose names contain `name_part`, from its admin interface."""
    url = f"http://127.0.0.1:{admin_port}/stats?filter={name_part}"
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    return {
        name: int(value)
        for name, value in (line.split(": ") for line in text.splitlines())
        if value.isdigit()
    }


def envoy_pid(server_pid: int) -> int:
    """The server's child process running Envoy."""
    for children in Path(f"/proc/{server_pid}/task").glob("*/children"):
        for pid in children.read_text().split():
            if "envoy" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                return int(pid)
    raise AssertionError("the server runs no Envoy")


async def test_envoy_memory_stays_bounded_while_a_browser_stops_reading_for_60_s(
    pg_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    port, web_port, admin_port = free_port(), free_port(), free_port()
    env = server_env(
        port,
        TICKSTOCK_DATA_DIR=str(tmp_path),
        TICKSTOCK_DATABASE_URL=pg_database_url,
        TICKSTOCK_REDIS_URL=redis_url,
        TICKSTOCK_DELIVERY__STREAM_KEY_PREFIX=f"test:{port}:events:",
        TICKSTOCK_FEED__SYMBOLS="4000",
        TICKSTOCK_WEB__ENABLED="true",
        TICKSTOCK_WEB__PORT=str(web_port),
        TICKSTOCK_WEB__ADMIN_PORT=str(admin_port),
    )
    request = event_service_pb2.StreamEventsRequest(
        delivery=event_service_pb2.DeliveryOptions(
            # Keep the stream open however far behind it falls, so the back-pressure lasts 60 s.
            slow_consumer_policy=event_service_pb2.SLOW_CONSUMER_POLICY_CONFLATE
        )
    ).SerializeToString()
    async with serving(env, port) as server:
        await wait_listening(web_port)
        key = await run_admin("create-key", "--user", "slow", env=env)
        envoy = envoy_pid(server.pid)
        baseline = rss_bytes(envoy)
        # A small receive buffer, so the kernel does not absorb what the browser does not read.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", web_port))
        reader, writer = await asyncio.open_connection(sock=sock)
        body = b"\x00" + struct.pack(">I", len(request)) + request
        writer.write(
            b"POST /tickstock.v1.EventService/StreamEvents HTTP/1.1\r\n"
            + f"host: 127.0.0.1:{web_port}\r\nauthorization: Bearer {key}\r\n".encode()
            + b"content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        first = await reader.readuntil(b"\r\n\r\n")  # the response headers; then nothing is read
        samples = []
        for _ in range(STALL_S):
            await asyncio.sleep(1)
            samples.append(rss_bytes(envoy))
        paused = await asyncio.to_thread(envoy_counters, admin_port, "flow_control_paused_reading")
        buffered = await asyncio.to_thread(envoy_counters, admin_port, "downstream_cx_tx_bytes_buffered")
        writer.close()

    assert first.startswith(b"HTTP/1.1 200")
    growth = max(samples) - baseline
    assert growth < MAX_GROWTH_BYTES
    # The stall did reach Envoy: its buffer for the browser filled to its limit (512 KiB, plus the
    # frame that crossed it), and it stopped reading from the server, which now holds the backlog.
    assert 512 * 1024 <= buffered["http.grpc_web.downstream_cx_tx_bytes_buffered"] < 640 * 1024, buffered
    assert paused["cluster.tickstock_grpc.upstream_flow_control_paused_reading_total"] >= 1, paused
