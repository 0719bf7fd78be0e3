"""A power loss: ingest, gateways, Redis and PostgreSQL SIGKILLed at once, then all started again from
their data directories. No (epoch, seq) may ever name two different events: what clients received
before the crash is compared with what the stream holds after it.

The feed stamps ticks with the wall clock, so the restarted ingest continues the stored epoch (a feed
on the session clock would start a new one, and there would be nothing to compare): Redis's
append-only file holds every entry it acknowledged, and the seqs the dead ingest may have issued
beyond them are skipped and reported."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis.asyncio as aioredis
from fault_run import Figure, now_s, watched
from fault_topology import Topology
from owned_servers import OwnedRedis, kill_postgres, start_postgres

from tickstock.v1 import event_service_pb2, events_pb2
from tickstock_server.bus.stream_history import StreamRows, unpack_rows


async def test_a_power_loss_never_lets_an_epoch_and_seq_name_two_events(
    owned_redis: OwnedRedis, owned_postgres: tuple[Path, str], figure: Figure
) -> None:
    directory, database_url = owned_postgres
    async with watched(database_url, owned_redis.url, warm_events=50, continued_feed=True) as watch:
        topology, roles = watch.topology, [watch.topology.ingest, *watch.topology.gateways]
        for role in roles:
            role.kill()
        owned_redis.kill()
        await asyncio.to_thread(kill_postgres, directory)
        before = {(r.epoch, r.seq): r.event_id for c in watch.clients for r in c.received}
        for role in roles:
            assert role.process is not None
            await role.process.wait()
        owned_redis.start()
        await asyncio.to_thread(start_postgres, directory)
        for role in roles:
            await role.start()
        end_s = now_s()
        await watch.recovered(end_s)
        after = await _stored(topology, owned_redis.url, {epoch for epoch, _ in before})

    renamed = {
        key: (before[key], after[key]) for key in before.keys() & after.keys() if before[key] != after[key]
    }
    assert renamed == {}, "an (epoch, seq) names two events"
    # Everything a client received had been acknowledged by Redis, so the stream still holds all of it.
    assert before.keys() <= after.keys()
    watch.assert_exactly_once()
    for client in watch.clients:
        assert {item.epoch for item in client.received} == {epoch for epoch, _ in before}
        assert [gap.reason for gap in client.state.gaps] == [event_service_pb2.GAP_REASON_NOT_PERSISTED]
    watch.report(figure, "power_loss", end_s)
    figure("power_loss_compared", len(before.keys() & after.keys()), "events")


async def _stored(topology: Topology, redis_url: str, epochs: set[str]) -> dict[tuple[str, int], str]:
    """Every stored event of `epochs`, by (epoch, seq), as the stream holds it now."""
    stored = {}
    async with aioredis.from_url(redis_url) as client:
        for epoch in epochs:
            rows = await client.xrange(f"{topology.prefix}stream:{epoch}", "-", "+")
            for entry in unpack_rows(StreamRows(rows)):
                stored[(epoch, entry.seq)] = events_pb2.Event.FromString(entry.encoded).event_id
    return stored
