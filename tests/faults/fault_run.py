"""The steps and checks every fault test shares: warm up, wait for recovery, report, check the bars."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg
from fault_topology import (
    HealthWatcher,
    StreamingClient,
    StreamRecorder,
    Topology,
    assert_exactly_once,
    background,
    running_topology,
)
from polling import eventually

Figure = Callable[[str, float, str], None]
"""Records a `name: value unit` line for the run's summary (the `figure` fixture)."""

FEED_SYMBOLS = 40
"""Symbols of the synthetic feed (`server_env`'s default)."""
RECOVER_TIMEOUT_S = 60.0
"""A guard against a hang on two busy cores, not a timing assertion."""


async def warm(clients: list[StreamingClient], events: int = 20) -> None:
    await eventually(lambda: all(len(c.received) >= events for c in clients), RECOVER_TIMEOUT_S, 0.1)


async def recovered(
    clients: list[StreamingClient], health: HealthWatcher, end_s: float, events: int = 20
) -> None:
    """Every client has `events` new events after `end_s`, and every role reports SERVING again."""
    for client in clients:
        await eventually(
            lambda c=client: sum(r.at_s > end_s for r in c.received) >= events, RECOVER_TIMEOUT_S, 0.1
        )
    roles = len(health.topology.gateways) + 1
    await eventually(
        lambda: len(health.seen) == roles and all(s[-1] == "SERVING" for s in health.seen.values()),
        RECOVER_TIMEOUT_S,
        0.2,
    )


def report(
    figure: Figure, name: str, health: HealthWatcher, clients: list[StreamingClient], end_s: float
) -> None:
    """Time to recover per client, its cuts and gap notices, and each role's health transitions."""
    for index, client in enumerate(clients):
        figure(f"{name}_client{index}_recover", client.first_after(end_s), "s")
        figure(f"{name}_client{index}_events", len(client.received), "events")
        figure(f"{name}_client{index}_gap_notices", len(client.state.gaps), "notices")
    for role, states in health.seen.items():
        figure(f"{name}_{role}_health_transitions", len(states) - 1, f"transitions ({' -> '.join(states)})")


def metric(topology: Topology, name: str) -> float:
    """The ingest's value of metric `name` (its first sample)."""
    url = f"http://127.0.0.1:{topology.ingest.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name) and line[len(name)] in " {":
                return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"metric {name} not exported")


async def assert_no_bar_lost(topology: Topology, database_url: str) -> int:
    """The writer holds nothing back and every symbol has a bar for every minute of its stored span.

    The synthetic feed ticks every symbol many times a minute, so a missing minute between a symbol's
    first and last stored bar is a lost bar; the open minute is not checkable until it closes. Returns
    the number of stored bars.
    """
    await eventually(lambda: _nothing_pending(topology), RECOVER_TIMEOUT_S, 0.5)
    assert await asyncio.to_thread(metric, topology, "tickstock_bars_quarantined_total") == 0
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT symbol, count(*) AS bars, array_agg(ts) AS minutes,"
            " (extract(epoch FROM max(ts) - min(ts)) / 60)::int + 1 AS span FROM ohlcv_1min GROUP BY symbol"
        )
    finally:
        await connection.close()
    holes = {row["symbol"]: row["span"] - row["bars"] for row in rows if row["span"] != row["bars"]}
    assert holes == {}, f"minutes missing per symbol: {holes}"
    # Every symbol ticks every minute: a minute stored for one symbol is stored for all of them.
    minutes = {ts for row in rows for ts in row["minutes"]}
    assert sum(row["bars"] for row in rows) == len(minutes) * len(rows) == len(minutes) * FEED_SYMBOLS
    return sum(row["bars"] for row in rows)


async def _nothing_pending(topology: Topology) -> bool:
    return await asyncio.to_thread(metric, topology, "tickstock_bars_pending") == 0


def now_s() -> float:
    return asyncio.get_running_loop().time()


@dataclass
class Watch:
    """A running topology with two streaming clients, the stream's recorder and the roles' health."""

    topology: Topology
    clients: list[StreamingClient]
    recorder: StreamRecorder
    health: HealthWatcher

    async def recovered(self, end_s: float) -> None:
        await recovered(self.clients, self.health, end_s)

    def assert_exactly_once(self) -> None:
        for client in self.clients:
            assert_exactly_once(client, self.recorder)

    def report(self, figure: Figure, name: str, end_s: float) -> None:
        report(figure, name, self.health, self.clients, end_s)


@contextlib.asynccontextmanager
async def watched(
    database_url: str, redis_url: str, *, warm_events: int = 20, continued_feed: bool = False
) -> AsyncIterator[Watch]:
    """The topology on these servers (`running_topology`), its clients streaming (warmed up) and
    everything recorded."""
    async with running_topology(database_url, redis_url, continued_feed=continued_feed) as topology:
        clients = [StreamingClient(topology), StreamingClient(topology)]
        watch = Watch(topology, clients, StreamRecorder(redis_url, topology.prefix), HealthWatcher(topology))
        async with background(watch.recorder, watch.health, *clients):
            await warm(clients, warm_events)
            yield watch
