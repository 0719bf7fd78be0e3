"""Load-generator process of `bench/fanout.py`: one share of the subscribers, on its own event loop.

`fanout.py` starts `--clients` of these with multiprocessing's "spawn" method and talks to each over a
pipe: the worker opens its streams, sends "ready", receives the measurement window (start and end on
`time.monotonic()`, which is system-wide on Linux, so every worker measures the same interval), records
until the end and sends back a `WorkerResult`.
"""

from __future__ import annotations

import asyncio
import gc
import random
import signal
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import grpc

from tickstock.v1 import event_service_pb2, event_service_pb2_grpc, events_pb2
from tickstock_server.simulation.market import REAL_TICKERS

OPEN_WAVE = 50
"""Streams a worker opens at once before it waits for their first messages."""

_UNIVERSES = ["sp500", "nasdaq100", "dow30", "sector_technology", "sector_financials", "sector_health_care"]
_TYPES = [
    events_pb2.EVENT_TYPE_HIGH,
    events_pb2.EVENT_TYPE_LOW,
    events_pb2.EVENT_TYPE_TREND,
    events_pb2.EVENT_TYPE_SURGE,
]


@dataclass(frozen=True)
class WorkerConfig:
    """What one worker needs: its share of subscribers and channels, and its own seed."""

    port: int
    token: str
    watchlists: list[str]
    subscribers: int
    channels: int
    seed: int


@dataclass
class WorkerResult:
    """What one worker recorded in the measurement window (latencies in ms)."""

    latencies_ms: list[float] = field(default_factory=list)
    events: int = 0
    messages: int = 0
    drops: int = 0
    gaps: int = 0
    errors: list[str] = field(default_factory=list)
    cpu_s: float = 0.0
    measuring: bool = False
    """True while the window is open."""


async def _subscriber(
    stub: event_service_pb2_grpc.EventServiceStub,
    request: event_service_pb2.StreamEventsRequest,
    metadata: tuple[tuple[str, str], ...],
    stats: WorkerResult,
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


def filters(count: int, watchlists: list[str], rng: random.Random) -> list[event_service_pb2.EventFilter]:
    """`count` filters: 50 % symbol lists, 20 % universes, 15 % types and price, 15 % watchlists."""
    real = list(REAL_TICKERS)
    result = []
    for index in range(count):
        share = index / count
        if share < 0.5:
            result.append(event_service_pb2.EventFilter(symbols=rng.sample(real, rng.randint(5, 50))))
        elif share < 0.7:
            result.append(event_service_pb2.EventFilter(universes=rng.sample(_UNIVERSES, rng.randint(1, 2))))
        elif share < 0.85:
            result.append(
                event_service_pb2.EventFilter(
                    event_types=rng.sample(_TYPES, rng.randint(1, 2)), min_price=rng.uniform(0, 100)
                )
            )
        else:
            directions = rng.choice([[events_pb2.DIRECTION_UP], [events_pb2.DIRECTION_DOWN], []])
            result.append(
                event_service_pb2.EventFilter(watchlist_ids=[rng.choice(watchlists)], directions=directions)
            )
    return result


async def _work(config: WorkerConfig, conn: Connection) -> WorkerResult:
    metadata = (("authorization", f"Bearer {config.token}"),)
    channels = [
        grpc.aio.insecure_channel(f"127.0.0.1:{config.port}", options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(config.channels)
    ]
    stats = WorkerResult()
    tasks = []
    # Streams open in waves of OPEN_WAVE at a time: one at a time, each open waits a round trip through a
    # gateway already busy with the open streams, and 5,000 streams took more than ten minutes to open.
    waiting: list[asyncio.Event] = []
    for index, event_filter in enumerate(
        filters(config.subscribers, config.watchlists, random.Random(config.seed))
    ):
        stub = event_service_pb2_grpc.EventServiceStub(channels[index % len(channels)])
        opened = asyncio.Event()
        request = event_service_pb2.StreamEventsRequest(filter=event_filter)
        tasks.append(asyncio.create_task(_subscriber(stub, request, metadata, stats, opened)))
        waiting.append(opened)
        if len(waiting) == OPEN_WAVE:
            await asyncio.gather(*(event.wait() for event in waiting))
            waiting.clear()
    await asyncio.gather(*(event.wait() for event in waiting))
    # The load generator must not pause its own streams: no collections while it measures (its
    # garbage in 60 s is small, and reference counting frees nearly all of it).
    gc.collect()
    gc.freeze()
    gc.disable()
    conn.send("ready")
    start, end = await asyncio.to_thread(conn.recv)
    await asyncio.sleep(start - time.monotonic())
    stats.measuring, cpu0 = True, time.process_time()
    await asyncio.sleep(end - time.monotonic())
    stats.measuring, stats.cpu_s = False, time.process_time() - cpu0
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels:
        await channel.close()
    return stats


def run(config: WorkerConfig, conn: Connection) -> None:
    """Entry point of a worker process: open the streams, measure in the window the parent sends."""
    import uvloop

    # Ctrl-C reaches the whole process group; the parent stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn.send(uvloop.run(_work(config, conn)))
    conn.close()
