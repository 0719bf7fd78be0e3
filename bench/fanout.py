"""Event fan-out: N subscribers with distinct filters on the synthetic feed, and tick-to-client latency.

Usage: .venv/bin/python bench/fanout.py [--subscribers 1000] [--seconds 60] [--warmup-s 15]
       [--clients N] [--topology supervise|all] [--gateways 0] [--rate 4000] [--symbols 4000]
       [--channels 10] [--seed 7] [--redis-url URL --database-url URL]

Starts the real server as a child process: `--topology supervise` (the default) runs `python -m
tickstock_server supervise` (one ingest process and `--gateways` gateway processes sharing the gRPC port,
0 for one per core but one), `--topology all` runs `python -m tickstock_server` (everything in one
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
import time

import fanout_worker
from service_proc import (
    Service,
    Worker,
    add_service_arguments,
    cpu_s,
    pss_mb,
    receive_from,
    rss_mb,
    running_service,
    service_pids,
    share,
    start_workers,
)


async def _run(args: argparse.Namespace) -> None:
    async with running_service(args, "tickstock-fanout-") as service:
        await _measure(args, service)


async def _measure(args: argparse.Namespace, service: Service) -> None:
    port, token, watchlists = service.port, service.token, service.watchlists
    server_pid, data_dir = service.server_pid, service.data_dir
    count = max(1, min(args.clients, args.subscribers))
    workers: list[Worker] = []
    try:
        configs = [
            fanout_worker.WorkerConfig(
                port=port,
                token=token,
                watchlists=watchlists,
                subscribers=share(args.subscribers, count, index),
                channels=max(1, share(args.channels, count, index)),
                seed=args.seed * 1000 + index + 1,
            )
            for index in range(count)
        ]
        await start_workers(fanout_worker.run, configs, workers)
        start = time.monotonic() + args.warmup_s
        end = start + args.seconds
        for _, conn in workers:
            conn.send((start, end))
        await asyncio.sleep(start - time.monotonic())
        cpu0 = cpu_s(service_pids(server_pid, data_dir))
        await asyncio.sleep(end - time.monotonic())
        pids = service_pids(server_pid, data_dir)
        cpu1, rss, pss = cpu_s(pids), rss_mb(pids, server_pid), pss_mb(pids)
        results = [await receive_from(conn, index, wait_s=120) for index, (_, conn) in enumerate(workers)]
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
    add_service_arguments(parser)
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
