"""Event fan-out: N subscribers with distinct filters on the synthetic feed, and tick-to-client latency.

Usage: .venv/bin/python bench/fanout.py [--subscribers 1000] [--seconds 60] [--warmup-s 15]
       [--rate 4000] [--symbols 4000] [--channels 10] [--redis-url URL --database-url URL]

Starts the real server (`python -m tickstock_server`) as a child process: the synthetic feed at `--rate`
ticks/s over `--symbols` symbols, the embedded Redis and PostgreSQL in a temporary directory unless URLs
are given. Then opens `--subscribers` streams over `--channels` connections from this process, with
distinct filters:

- 50 %: 5 to 50 random symbols of the 560 real tickers, every event type;
- 20 %: one or two universes of the seed data (sp500, nasdaq100, dow30, a sector), every type;
- 15 %: every symbol, one or two event types, a random minimum price;
- 15 %: one of the user's watchlists (20 random tickers) plus random directions.

Latency of an event = client receive time - the event's ingest time (the wall-clock time the server
received the tick), so it covers detection, the event log, fan-out, batching, gRPC and client decoding.
Server and load generator share this machine's cores. Figures are measured after `--warmup-s`.
Drops = drop notices + streams ended with an error (both must be 0 for "no loss").

Prints one `name: value unit` line per figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc

from tickstock.v1 import (
    event_service_pb2,
    event_service_pb2_grpc,
    events_pb2,
    universe_service_pb2,
    universe_service_pb2_grpc,
)
from tickstock_server.simulation.market import REAL_TICKERS

_UNIVERSES = ["sp500", "nasdaq100", "dow30", "sector_technology", "sector_financials", "sector_health_care"]
_TYPES = [
    events_pb2.EVENT_TYPE_HIGH,
    events_pb2.EVENT_TYPE_LOW,
    events_pb2.EVENT_TYPE_TREND,
    events_pb2.EVENT_TYPE_SURGE,
]
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Stats:
    """What every subscriber records."""

    def __init__(self) -> None:
        self.measuring = False
        self.latencies_ms: list[float] = []
        self.events = 0
        self.messages = 0
        self.drops = 0
        self.errors: list[str] = []
        self.gaps = 0


async def _subscriber(
    stub: event_service_pb2_grpc.EventServiceStub,
    request: event_service_pb2.StreamEventsRequest,
    metadata: tuple[tuple[str, str], ...],
    stats: Stats,
    opened: asyncio.Event,
) -> None:
    call = stub.StreamEvents(request, metadata=metadata)
    try:
        async for response in call:
            kind = response.WhichOneof("payload")
            if kind == "event_batch":
                now_ns = time.time_ns()
                if stats.measuring:
                    stats.messages += 1
                    events = response.event_batch.events
                    stats.events += len(events)
                    stats.latencies_ms += [(now_ns - e.ingest_time.ToNanoseconds()) / 1e6 for e in events]
            elif kind == "subscription_status":
                opened.set()
            elif kind == "drop_notice":
                stats.drops += response.drop_notice.dropped_count
            elif kind == "gap_notice":
                stats.gaps += 1
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.CANCELLED:
            stats.errors.append(exc.code().name)
    finally:
        opened.set()


def _filters(count: int, watchlists: list[str], rng: random.Random) -> list[event_service_pb2.EventFilter]:
    real = list(REAL_TICKERS)
    filters = []
    for index in range(count):
        share = index / count
        if share < 0.5:
            filters.append(event_service_pb2.EventFilter(symbols=rng.sample(real, rng.randint(5, 50))))
        elif share < 0.7:
            filters.append(event_service_pb2.EventFilter(universes=rng.sample(_UNIVERSES, rng.randint(1, 2))))
        elif share < 0.85:
            filters.append(
                event_service_pb2.EventFilter(
                    event_types=rng.sample(_TYPES, rng.randint(1, 2)), min_price=rng.uniform(0, 100)
                )
            )
        else:
            directions = rng.choice([[events_pb2.DIRECTION_UP], [events_pb2.DIRECTION_DOWN], []])
            filters.append(
                event_service_pb2.EventFilter(watchlist_ids=[rng.choice(watchlists)], directions=directions)
            )
    return filters


async def _create_watchlists(
    channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...], rng: random.Random
) -> list[str]:
    stub = universe_service_pb2_grpc.UniverseServiceStub(channel)
    ids = []
    for index in range(20):
        response = await stub.CreateWatchlist(
            universe_service_pb2.CreateWatchlistRequest(
                watchlist=universe_service_pb2.Watchlist(
                    name=f"bench-{index}-{rng.randrange(10**9)}", symbols=rng.sample(list(REAL_TICKERS), 20)
                )
            ),
            metadata=metadata,
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
        TICKSTOCK_METRICS__ENABLED="false",
        TICKSTOCK_LOG__LEVEL="WARNING",
    )
    if args.redis_url:
        env["TICKSTOCK_REDIS_URL"] = args.redis_url
        env["TICKSTOCK_DELIVERY__STREAM_KEY_PREFIX"] = f"bench:{port}:"
    if args.database_url:
        env["TICKSTOCK_DATABASE_URL"] = args.database_url
    server = await asyncio.create_subprocess_exec(sys.executable, "-m", "tickstock_server", env=env)
    try:
        await _wait_ready(port, server)
        key = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tickstock_server", "create-key", "--user", "bench",
            env=env, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        token = (await key.communicate())[0].decode().strip()
        metadata = (("authorization", f"Bearer {token}"),)
        await _measure(args, port, metadata, server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.wait(), 60)


async def _measure(
    args: argparse.Namespace, port: int, metadata: tuple[tuple[str, str], ...], server_pid: int
) -> None:
    rng = random.Random(args.seed)
    channels = [
        grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(args.channels)
    ]
    watchlists = await _create_watchlists(channels[0], metadata, rng)
    stats = Stats()
    tasks = []
    for index, event_filter in enumerate(_filters(args.subscribers, watchlists, rng)):
        stub = event_service_pb2_grpc.EventServiceStub(channels[index % len(channels)])
        opened = asyncio.Event()
        request = event_service_pb2.StreamEventsRequest(filter=event_filter)
        tasks.append(asyncio.create_task(_subscriber(stub, request, metadata, stats, opened)))
        await opened.wait()
    await asyncio.sleep(args.warmup_s)
    cpu0, client0, wall0 = _cpu_s(server_pid), time.process_time(), time.monotonic()
    stats.measuring = True
    await asyncio.sleep(args.seconds)
    stats.measuring = False
    wall = time.monotonic() - wall0
    server_cpu = (_cpu_s(server_pid) - cpu0) / wall * 100
    client_cpu = (time.process_time() - client0) / wall * 100
    rss = _rss_mb(server_pid)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels:
        await channel.close()

    latencies = sorted(stats.latencies_ms) or [0.0]

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]

    print(f"subscribers: {args.subscribers} streams")
    print(f"delivered: {stats.events / wall:.0f} events/s")
    print(f"messages: {stats.messages / wall:.0f} batches/s")
    print(f"latency_p50: {statistics.median(latencies):.2f} ms")
    print(f"latency_p99: {pct(99):.2f} ms")
    print(f"latency_p999: {pct(99.9):.2f} ms")
    print(f"latency_max: {latencies[-1]:.2f} ms")
    print(f"drops: {stats.drops + len(stats.errors)} events")
    print(f"gaps: {stats.gaps} notices")
    print(f"server_cpu: {server_cpu:.0f} %")
    print(f"server_rss: {rss:.0f} MB")
    print(f"client_cpu: {client_cpu:.0f} %")


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup-s", type=float, default=15.0)
    parser.add_argument("--rate", type=float, default=4000.0)
    parser.add_argument("--symbols", type=int, default=4000)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(_run(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
