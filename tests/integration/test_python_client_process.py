"""The Python client's event stream against the default topology, as real processes, through a network
that breaks: its gateway SIGKILLed and restarted three times, and 50 cut connections. It must deliver
exactly the stored stream for its filter (gateways serve only what reached Redis)."""

from __future__ import annotations

import asyncio
import random
import signal
from pathlib import Path

import redis.asyncio as aioredis
from server_process import free_port, run_admin, server_env, serving, started, topology_settings
from tcp_proxy import TcpProxy

from tickstock_client import AsyncClient, Dropped, Event, EventFilter, EventType, Gap
from tickstock_server.bus.event_follower import RedisEventFollower

KILLS = 3
CUTS = 50


async def stored_seqs(redis_url: str, prefix: str, after: int, until: int) -> list[int]:
    """The seqs of highs and lows the event stream holds in (after, until]."""
    async with aioredis.from_url(redis_url) as client:
        follower = RedisEventFollower(client, key_prefix=prefix)
        await follower.open()
        stored = await follower.read(after, until, limit=10_000_000)
    return [entry.seq for entry in stored if entry.fields.type in ("high", "low")]


async def until_more(received: list[Event], count: int) -> None:
    """Wait until more than `count` events have arrived."""
    async with asyncio.timeout(30):
        while len(received) <= count:  # noqa: ASYNC110 - the reader fills a plain list
            await asyncio.sleep(0.02)


async def test_the_stream_survives_killed_gateways_and_cut_connections_with_no_gap_or_duplicate(
    pg_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    prefix = f"test:{port}:events:"
    common = {**topology_settings(pg_database_url, redis_url, prefix), "TICKSTOCK_FEED__SYMBOLS": "400"}
    ingest_env = server_env(0, TICKSTOCK_ROLE="ingest", TICKSTOCK_DATA_DIR=str(tmp_path), **common)
    gateway_env = server_env(port, TICKSTOCK_ROLE="gateway", **common)
    proxy = TcpProxy(port)
    await proxy.start()
    received: list[Event] = []
    notices: list[Gap | Dropped] = []
    rng = random.Random(7)

    async with started(ingest_env):
        key = await run_admin("create-key", "--user", "client", env=ingest_env)
        client = AsyncClient(f"127.0.0.1:{proxy.port}", api_key=key)
        stream = client.stream_events(EventFilter(event_types=(EventType.HIGH, EventType.LOW)))

        async def read() -> None:
            async for item in stream:
                if isinstance(item, Event):
                    received.append(item)
                elif isinstance(item, Gap | Dropped):
                    notices.append(item)

        reader = asyncio.create_task(read())
        try:
            for life in range(KILLS + 1):
                async with serving(gateway_env, port) as gateway:
                    for _ in range(CUTS // (KILLS + 1) + (life < CUTS % (KILLS + 1))):
                        # Cut a live stream: one that has delivered since the last cut.
                        await until_more(received, len(received))
                        await asyncio.sleep(rng.uniform(0, 0.2))
                        proxy.cut()
                    await until_more(received, len(received) + 19)  # live again after the last cut
                    if life < KILLS:
                        gateway.send_signal(signal.SIGKILL)
                        await gateway.wait()
            seqs = [event.seq for event in received]
            (epoch,) = {event.epoch for event in received}
            stored = await stored_seqs(redis_url, prefix, seqs[0] - 1, seqs[-1])
        finally:
            stream.close()
            reader.cancel()
            await client.close()
            await proxy.close()

    # Nearly every cut interrupted a live stream (one can fall just as gRPC swaps connections), and
    # every interruption, cut or kill, was followed by a resume.
    assert proxy.hits >= CUTS * 9 // 10
    assert notices == []
    assert len(seqs) == len(set(seqs)), "an event arrived twice"
    assert seqs == stored
    assert stream.reconnects >= proxy.hits + KILLS - 1  # close() may cut once more, after the reading
    assert epoch
    assert {event.type for event in received} <= {EventType.HIGH, EventType.LOW}
