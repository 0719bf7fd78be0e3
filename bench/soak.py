"""Soak: the default topology under steady load and subscriber churn for many minutes; leaks show as growth.

Usage: .venv/bin/python bench/soak.py [--minutes 30] [--subscribers 1000] [--window-s 300]
       [--churn-fraction 0.1] [--churn-every-s 5] [--check] [--max-growth-pct 10] [--baseline-window N]
       [--clients N] [--topology supervise|all] [--gateways 0] [--rate 4000] [--symbols 4000]
       [--channels 10] [--seed 7] [--redis-url URL --database-url URL]

Starts the server like `fanout.py` (same flags, metrics on so the gateways' task counts can be read), then
`--clients` worker processes (`soak_worker.py`) keep `--subscribers` streams with `fanout.py`'s filters
open. Churn: every subscriber cancels its stream after a random lifetime and reconnects at once with the
resume token of its last batch, so that about `--churn-fraction` of them reconnect every
`--churn-every-s` seconds (mean lifetime churn-every-s / churn-fraction).

After each window of `--window-s` seconds it prints `window_<i>_<name>: value unit` lines: RSS by process
role and in total, PSS in total, and their growth against the baseline window; open file descriptors by
role (from /proc); asyncio tasks per process (the `tickstock_asyncio_tasks` metric); tick-to-client latency
p50/p99 as `fanout.py` measures it; delivered events/s, resumes/s, drops, gap notices, duplicate events
(seq at or below the resumed token) and stream errors. The baseline is window 0 for runs of 10 minutes or
more, else window 1 (the first is warm-up). With `--check` it exits with status 1 and says why if memory
grew by `--max-growth-pct` or more from the baseline to the last window, or any window had drops, gaps,
duplicates or stream errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
import urllib.request

import soak_worker
from service_proc import (
    Service,
    Worker,
    add_service_arguments,
    free_port,
    open_fds,
    pss_mb,
    receive_from,
    rss_mb,
    running_service,
    service_pids,
    share,
    start_workers,
)
from soak_windows import ClientCounts, Window, check, window_lines

_TASKS = re.compile(r"^tickstock_asyncio_tasks\{[^}]*\} ([0-9.e+]+)$", re.MULTILINE)


def _task_counts(ports: dict[str, int]) -> dict[str, int]:
    """`tickstock_asyncio_tasks` per metrics endpoint; endpoints that do not answer are left out."""
    result = {}
    for name, port in ports.items():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
                found = _TASKS.search(response.read().decode())
        except OSError:
            continue
        if found:
            result[name] = int(float(found.group(1)))
    return result


def _metrics_ports(args: argparse.Namespace) -> dict[str, int]:
    if args.topology == "all":
        return {"server": args.metrics_port}
    gateways = args.gateways or max((os.cpu_count() or 1) - 1, 1)  # as `supervise` counts them
    ports = {"ingest": args.metrics_port}
    ports.update({f"gateway_{index}": args.metrics_port + 1 + index for index in range(gateways)})
    return ports


async def _run(args: argparse.Namespace) -> int:
    async with running_service(args, "tickstock-soak-") as service:
        windows = await _soak(args, service)
    baseline = args.baseline_window
    if baseline is None:
        baseline = 0 if args.minutes >= 10 else 1
    failures = check(windows, baseline, args.max_growth_pct)
    for failure in failures:
        print(f"soak check failed: {failure}", file=sys.stderr)
    print(f"soak_failures: {len(failures)} checks")
    return 1 if failures and args.check else 0


async def _soak(args: argparse.Namespace, service: Service) -> list[Window]:
    count = max(1, min(args.clients, args.subscribers))
    workers: list[Worker] = []
    windows: list[Window] = []
    try:
        configs = [
            soak_worker.SoakConfig(
                port=service.port,
                token=service.token,
                watchlists=service.watchlists,
                subscribers=share(args.subscribers, count, index),
                channels=max(1, share(args.channels, count, index)),
                seed=args.seed * 1000 + index + 1,
                lifetime_s=args.churn_every_s / args.churn_fraction,
            )
            for index in range(count)
        ]
        await start_workers(soak_worker.run, configs, workers)
        started = time.monotonic()
        for index in range(max(1, round(args.minutes * 60 / args.window_s))):
            await asyncio.sleep(started + (index + 1) * args.window_s - time.monotonic())
            windows.append(await _window(args, service, index, workers))
            print(*window_lines(windows[-1], windows[0] if index else None, args.window_s), sep="\n")
            sys.stdout.flush()
        for _, conn in workers:
            conn.send("stop")
        for index, (_, conn) in enumerate(workers):
            await receive_from(conn, index, wait_s=60)  # its streams are closed
    finally:
        for process, conn in workers:
            conn.close()
            await asyncio.to_thread(process.join, 30)
            if process.is_alive():
                process.terminate()
    return windows


async def _window(
    args: argparse.Namespace,
    service: Service,
    index: int,
    workers: list[Worker],
) -> Window:
    for _, conn in workers:
        conn.send("window")
    clients: list[ClientCounts] = [
        await receive_from(conn, number, wait_s=120) for number, (_, conn) in enumerate(workers)
    ]
    pids = service_pids(service.server_pid, service.data_dir)
    return Window(
        index=index,
        rss_mb=rss_mb(pids, service.server_pid),
        pss_mb=pss_mb(pids),
        fds=open_fds(pids, service.server_pid),
        tasks=await asyncio.to_thread(_task_counts, _metrics_ports(args)),
        clients=clients,
    )


def main() -> None:
    """Parse arguments, run the soak, exit 1 if `--check` found a failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--window-s", type=float, default=300.0)
    parser.add_argument("--churn-fraction", type=float, default=0.1, help="share reconnecting per period")
    parser.add_argument("--churn-every-s", type=float, default=5.0, help="the churn period")
    parser.add_argument("--check", action="store_true", help="exit 1 if a check fails")
    parser.add_argument("--max-growth-pct", type=float, default=10.0)
    parser.add_argument("--baseline-window", type=int, help="default: 0 from 10 minutes on, else 1")
    add_service_arguments(parser)
    args = parser.parse_args()
    args.metrics_port = free_port()  # ingest's; the gateways' follow it
    import uvloop

    try:
        sys.exit(uvloop.run(_run(args)))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
