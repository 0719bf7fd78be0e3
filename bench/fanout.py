"""Event fan-out: N subscribers with distinct filters on the synthetic feed, and tick-to-client latency.

Usage: .venv/bin/python bench/fanout.py [--subscribers 1000] [--seconds 60] [--warmup-s 15]
       [--clients N] [--topology supervise|all] [--gateways 0] [--rate 4000] [--symbols 4000]
       [--channels 10] [--seed 7] [--redis-url URL --database-url URL]

Starts the real server as a child process: `--topology supervise` (the default) runs
`python -m tickstock_server supervise` (one ingest process and `--gateways` gateway processes sharing
the gRPC port, 0 for one per core), `--topology all` runs `python -m tickstock_server` (everything in one
process). The synthetic feed runs at `--rate` ticks/s over `--symbols` symbols, the embedded Redis and
PostgreSQL in a temporary directory unless URLs are given. Then `--clients` load-generator processes
(default: one per core, see `fanout_worker.py`) open `--subscribers` streams over `--channels`
connections in all, split evenly, with distinct filters (each worker its own seed derived from `--seed`):

- 50 %: 5 to 50 random symbols of the 560 real tickers, every event type;
- 20 %: one or two universes of the seed data (sp500, nasdaq100, dow30, a sector), every type;
- 15 %: every symbol, one or two event types, a random minimum price;
- 15 %: one of the user's watchlists (20 random tickers) plus random directions.

Latency of an event = client receive time - the event's ingest time (the wall-clock time the server
received the tick), so it covers detection, the event log, fan-out, batching, gRPC and client decoding.
Server and load generator share this machine's cores. Every worker measures the same window, which
starts `--warmup-s` after all streams are open. Drops = drop notices + streams ended with an error (both
must be 0 for "no loss"). Server CPU and memory cover the whole service: the started process, its
descendants and the embedded PostgreSQL (which pg_ctl detaches). CPU figures are % of one core.

Prints one `name: value unit` line per figure.
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
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import fanout_worker
import grpc

from tickstock.v1 import universe_service_pb2, universe_service_pb2_grpc
from tickstock_server.simulation.market import REAL_TICKERS

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _service_pids(server_pid: int, data_dir: str) -> list[int]:
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


def _cpu_s(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system, all threads) of every process still running."""
    result = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            result[pid] = (int(fields[11]) + int(fields[12])) / _CLK_TCK
    return result


def _pss_mb(pids: list[int]) -> float:
    """Proportional set size: shared pages (PostgreSQL's shared buffers, say) split among their users."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    return total / 1024


def _rss_mb(pids: list[int], server_pid: int) -> dict[str, float]:
    """VmRSS by role: "main" (the started process), ingest, gateway, else the process name."""
    result: dict[str, float] = {}
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        name = status.split("\n", 1)[0].split(":", 1)[1].strip()
        roles = [
            role for role in ("ingest", "gateway") if name.startswith("python") and role.encode() in cmdline
        ]
        role = "main" if pid == server_pid else (roles[0] if roles else re.sub(r"\W", "_", name))
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                result[role] = result.get(role, 0.0) + int(line.split()[1]) / 1024
    return result


async def _create_watchlists(port: int, token: str, rng: random.Random) -> list[str]:
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


async def _wait_ready(port: int, process: asyncio.subprocess.Process) -> None:
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


async def _run(args: argparse.Namespace) -> None:
    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="tickstock-fanout-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKSTOCK_")}
    env.update(
        TICKSTOCK_DATA_DIR=data_dir,
        TICKSTOCK_GRPC__HOST="127.0.0.1",
        TICKSTOCK_GRPC__PORT=str(port),
        TICKSTOCK_FEED__SYMBOLS=str(args.symbols),
        TICKSTOCK_FEED__RATE_PER_S=str(args.rate),
        TICKSTOCK_DELIVERY__MAX_STREAMS_PER_USER=str(max(args.subscribers, 10)),
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
    command = ["supervise"] if args.topology == "supervise" else []
    server = await asyncio.create_subprocess_exec(sys.executable, "-m", "tickstock_server", *command, env=env)
    try:
        await _wait_ready(port, server)
        key = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tickstock_server", "create-key", "--user", "bench",
            env=env, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        token = (await key.communicate())[0].decode().strip()
        watchlists = await _create_watchlists(port, token, random.Random(args.seed))
        await _measure(args, port, token, watchlists, server.pid, data_dir)
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


def _share(total: int, parts: int, index: int) -> int:
    return total // parts + (1 if index < total % parts else 0)


async def _receive(conn: Connection, index: int, wait_s: float) -> Any:
    def receive() -> Any:
        if not conn.poll(wait_s):
            raise SystemExit(f"load-generator worker {index} did not answer within {wait_s:.0f} s")
        try:
            return conn.recv()
        except EOFError:
            raise SystemExit(f"load-generator worker {index} exited early") from None

    return await asyncio.to_thread(receive)


async def _measure(
    args: argparse.Namespace, port: int, token: str, watchlists: list[str], server_pid: int, data_dir: str
) -> None:
    context = multiprocessing.get_context("spawn")
    count = max(1, min(args.clients, args.subscribers))
    workers: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    try:
        for index in range(count):
            config = fanout_worker.WorkerConfig(
                port=port,
                token=token,
                watchlists=watchlists,
                subscribers=_share(args.subscribers, count, index),
                channels=max(1, _share(args.channels, count, index)),
                seed=args.seed * 1000 + index + 1,
            )
            ours, theirs = context.Pipe()
            worker = context.Process(target=fanout_worker.run, args=(config, theirs), daemon=True)
            worker.start()
            theirs.close()
            workers.append((worker, ours))
        for index, (_, conn) in enumerate(workers):
            await _receive(conn, index, wait_s=600)  # "ready": every stream of the worker is open
        start = time.monotonic() + args.warmup_s
        end = start + args.seconds
        for _, conn in workers:
            conn.send((start, end))
        await asyncio.sleep(start - time.monotonic())
        cpu0 = _cpu_s(_service_pids(server_pid, data_dir))
        await asyncio.sleep(end - time.monotonic())
        pids = _service_pids(server_pid, data_dir)
        cpu1, rss, pss = _cpu_s(pids), _rss_mb(pids, server_pid), _pss_mb(pids)
        results = [await _receive(conn, index, wait_s=120) for index, (_, conn) in enumerate(workers)]
    finally:
        for process, conn in workers:
            conn.close()
            await asyncio.to_thread(process.join, 10)
            if process.is_alive():
                process.terminate()
    server_cpu_s = sum(cpu - cpu0.get(pid, 0.0) for pid, cpu in cpu1.items())
    _report(args, count, results, args.seconds, server_cpu_s, len(pids), rss, pss)


def _report(
    args: argparse.Namespace,
    clients: int,
    results: list[fanout_worker.WorkerResult],
    wall: float,
    server_cpu_s: float,
    server_processes: int,
    rss: dict[str, float],
    pss: float,
) -> None:
    latencies = sorted(latency for result in results for latency in result.latencies_ms) or [0.0]

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]

    drops = sum(result.drops for result in results)
    errors = sum(len(result.errors) for result in results)
    client_cpu_s = sum(result.cpu_s for result in results)
    print(f"subscribers: {args.subscribers} streams")
    print(f"clients: {clients} processes")
    print(f"delivered: {sum(result.events for result in results) / wall:.0f} events/s")
    print(f"messages: {sum(result.messages for result in results) / wall:.0f} batches/s")
    print(f"latency_p50: {pct(50):.2f} ms")
    print(f"latency_p90: {pct(90):.2f} ms")
    print(f"latency_p99: {pct(99):.2f} ms")
    print(f"latency_p999: {pct(99.9):.2f} ms")
    print(f"latency_max: {latencies[-1]:.2f} ms")
    print(f"drops: {drops + errors} events")
    print(f"drop_notices: {drops} events")
    print(f"stream_errors: {errors} streams")
    print(f"gaps: {sum(result.gaps for result in results)} notices")
    print(f"server_cpu: {server_cpu_s / wall * 100:.0f} %")
    print(f"server_processes: {server_processes} processes")
    print(f"server_rss_total: {sum(rss.values()):.0f} MB")
    for role, mb in sorted(rss.items()):
        print(f"server_rss_{role}: {mb:.0f} MB")
    print(f"server_pss_total: {pss:.0f} MB")
    print(f"client_cpu: {client_cpu_s / wall * 100:.0f} %")
    print(f"client_cpu_s: {client_cpu_s:.1f} s")


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup-s", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=os.cpu_count() or 1, help="load-generator processes")
    parser.add_argument("--topology", choices=["supervise", "all"], default="supervise")
    parser.add_argument("--gateways", type=int, default=0, help="gateways of `supervise`; 0: one per core")
    parser.add_argument("--rate", type=float, default=4000.0)
    parser.add_argument("--symbols", type=int, default=4000)
    parser.add_argument("--channels", type=int, default=10, help="connections over all clients")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    parser.add_argument(
        "--metrics-port", type=int, default=0,
        help="serve metrics from this port (gateways above it) to watch the run; 0: metrics off",
    )  # fmt: skip
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(_run(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
