"""The service under benchmark: start and stop it, find its processes and read their CPU and memory.

Shared by `fanout.py` and `soak.py`, which start the real server as a child process (`supervise` or
everything in one process) and drive it with the load-generator workers of `fanout_worker.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import grpc

from tickstock.v1 import universe_service_pb2, universe_service_pb2_grpc
from tickstock_server.simulation.market import REAL_TICKERS

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def service_pids(server_pid: int, data_dir: str) -> list[int]:
    """The server, every process whose command line names the data directory, and their descendants.

    The embedded PostgreSQL is started by pg_ctl, which detaches the postmaster from the server's
    process tree; its command line (`postgres -D <data_dir>/postgres`) finds it.
    """
    children: dict[int, list[int]] = {}
    roots = {server_pid}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
        if data_dir.encode() in cmdline:
            roots.add(int(entry.name))
    found: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += children.get(pid, [])
    return sorted(found)


def cpu_s(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system, all threads) of every process still running."""
    result = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            result[pid] = (int(fields[11]) + int(fields[12])) / _CLK_TCK
    return result


def pss_mb(pids: list[int]) -> float:
    """Proportional set size: shared pages (PostgreSQL's shared buffers, say) split among their users."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    return total / 1024


def process_role(pid: int, server_pid: int) -> str | None:
    """ "main" (the started process), else its TICKSTOCK_ROLE (the supervisor's children: ingest,
    gateway), else the process name; None if it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    if pid == server_pid:
        return "main"
    roles = [entry.partition(b"=")[2].decode() for entry in environ if entry.startswith(b"TICKSTOCK_ROLE=")]
    name = status.split("\n", 1)[0].split(":", 1)[1].strip()
    return re.sub(r"\W", "_", roles[0] if roles and name.startswith("python") else name)


def rss_mb(pids: list[int], server_pid: int) -> dict[str, float]:
    """VmRSS by role (see `process_role`), summed over the processes of a role."""
    result: dict[str, float] = {}
    for pid in pids:
        role = process_role(pid, server_pid)
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if role is not None and line.startswith("VmRSS:"):
                    result[role] = result.get(role, 0.0) + int(line.split()[1]) / 1024
    return result


def open_fds(pids: list[int], server_pid: int) -> dict[str, int]:
    """Open file descriptors by role (see `process_role`), summed over the processes of a role."""
    result: dict[str, int] = {}
    for pid in pids:
        role = process_role(pid, server_pid)
        with contextlib.suppress(OSError):
            count = len(os.listdir(f"/proc/{pid}/fd"))
            if role is not None:
                result[role] = result.get(role, 0) + count
    return result


async def create_watchlists(port: int, token: str, rng: random.Random) -> list[str]:
    """Twenty watchlists of 20 random real tickers for the user of `token`; their ids."""
    ids = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = universe_service_pb2_grpc.UniverseServiceStub(channel)
        for index in range(20):
            response = await stub.CreateWatchlist(
                universe_service_pb2.CreateWatchlistRequest(
                    watchlist=universe_service_pb2.Watchlist(
                        name=f"bench-{index}-{rng.randrange(10**9)}",
                        symbols=rng.sample(list(REAL_TICKERS), 20),
                    )
                ),
                metadata=(("authorization", f"Bearer {token}"),),
            )
            ids.append(response.watchlist.watchlist_id)
    return ids


async def wait_ready(port: int, process: asyncio.subprocess.Process) -> None:
    """Wait until the server on `port` reports SERVING; exit if it exits or takes two minutes."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for _ in range(1200):
            if process.returncode is not None:
                raise SystemExit("the server exited during start-up")
            with contextlib.suppress(grpc.aio.AioRpcError):
                response = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            await asyncio.sleep(0.1)
    raise SystemExit("the server did not become SERVING")


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of the started service and of the load generator that `running_service` and the
    benchmarks' workers read."""
    parser.add_argument("--clients", type=int, default=os.cpu_count() or 1, help="load-generator processes")
    parser.add_argument("--topology", choices=["supervise", "all"], default="supervise")
    parser.add_argument("--gateways", type=int, default=0, help="gateways of `supervise`; 0: cores - 1")
    parser.add_argument("--rate", type=float, default=4000.0)
    parser.add_argument("--symbols", type=int, default=4000)
    parser.add_argument("--channels", type=int, default=10, help="connections over all clients")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    parser.add_argument(
        "--setting", action="append", default=[], metavar="SECTION.NAME=VALUE",
        help="a server setting, e.g. delivery.log_capacity=1000 (TICKSTOCK_DELIVERY__LOG_CAPACITY); "
        "repeatable",
    )  # fmt: skip


def setting_env(setting: str) -> tuple[str, str]:
    """`section.name=value` as the environment variable the server's settings read."""
    name, separator, value = setting.partition("=")
    if not separator or not name:
        raise SystemExit(f"--setting takes SECTION.NAME=VALUE, not {setting!r}")
    return "TICKSTOCK_" + name.upper().replace(".", "__"), value


@dataclass(frozen=True)
class Service:
    """A started server: its gRPC port, a key of user "bench", that user's watchlists, and its processes."""

    port: int
    token: str
    watchlists: list[str]
    server_pid: int
    data_dir: str


@contextlib.asynccontextmanager
async def running_service(args: argparse.Namespace, prefix: str) -> AsyncIterator[Service]:
    """Start the server as `fanout.py`'s docstring describes, yield it, stop it with SIGTERM.

    Reads `args.topology`, `symbols`, `rate`, `subscribers`, `metrics_port`, `gateways`, `redis_url`,
    `database_url`, `seed` and `setting`. The temporary data directory (named with `prefix`) is removed
    unless the server exits with an error, whose logs stay in it.
    """
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix=prefix)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKSTOCK_")}
    env.update(
        TICKSTOCK_DATA_DIR=data_dir,
        TICKSTOCK_GRPC__HOST="127.0.0.1",
        TICKSTOCK_GRPC__PORT=str(port),
        TICKSTOCK_FEED__SYMBOLS=str(args.symbols),
        TICKSTOCK_FEED__RATE_PER_S=str(args.rate),
        TICKSTOCK_DELIVERY__MAX_STREAMS_PER_USER=str(max(args.subscribers * 2, 10)),
        TICKSTOCK_METRICS__ENABLED=str(args.metrics_port > 0).lower(),
        TICKSTOCK_METRICS__PORT=str(args.metrics_port),
        TICKSTOCK_LOG__LEVEL="WARNING",
        TICKSTOCK_SUPERVISOR__GATEWAYS=str(args.gateways),
    )
    if args.redis_url:
        env["TICKSTOCK_REDIS_URL"] = args.redis_url
        env["TICKSTOCK_DELIVERY__STREAM_KEY_PREFIX"] = f"bench:{port}:"
    if args.database_url:
        env["TICKSTOCK_DATABASE_URL"] = args.database_url
    env.update(setting_env(setting) for setting in args.setting)
    command = ["supervise"] if args.topology == "supervise" else []
    server = await asyncio.create_subprocess_exec(sys.executable, "-m", "tickstock_server", *command, env=env)
    try:
        await wait_ready(port, server)
        key = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tickstock_server", "create-key", "--user", "bench",
            env=env, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        token = (await key.communicate())[0].decode().strip()
        watchlists = await create_watchlists(port, token, random.Random(args.seed))
        yield Service(port, token, watchlists, server.pid, data_dir)
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.wait(), 60)
        if server.returncode == 0:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:  # its logs are in there
            print(
                f"the server exited with {server.returncode}; its data stays in {data_dir}", file=sys.stderr
            )


def share(total: int, parts: int, index: int) -> int:
    """Part `index` of `total` split into `parts` nearly equal whole parts."""
    return total // parts + (1 if index < total % parts else 0)


async def receive_from(conn: Connection, index: int, wait_s: float) -> Any:
    """The next message of load-generator worker `index`; exit if none comes within `wait_s`."""

    def receive() -> Any:
        if not conn.poll(wait_s):
            raise SystemExit(f"load-generator worker {index} did not answer within {wait_s:.0f} s")
        try:
            return conn.recv()
        except EOFError:
            raise SystemExit(f"load-generator worker {index} exited early") from None

    return await asyncio.to_thread(receive)


Worker = tuple[multiprocessing.process.BaseProcess, Connection]
"""A load-generator process and this side of its pipe."""


async def start_workers(
    target: Callable[[Any, Connection], None], configs: list[Any], workers: list[Worker]
) -> None:
    """Start one spawned process per config running `target(config, pipe)`, added to `workers` as it
    starts (so the caller stops every one, even if a later one fails), then wait until each is ready."""
    context = multiprocessing.get_context("spawn")
    for config in configs:
        ours, theirs = context.Pipe()
        worker = context.Process(target=target, args=(config, theirs), daemon=True)
        worker.start()
        theirs.close()
        workers.append((worker, ours))
    for index, (_, conn) in enumerate(workers):
        await receive_from(conn, index, wait_s=600)  # "ready": every stream of the worker is open
