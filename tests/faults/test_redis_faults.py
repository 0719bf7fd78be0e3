"""Redis under fault while clients stream through the gateways: SIGKILLed and restarted from its
append-only file, and paused (SIGSTOP) for a few seconds together with a client that stops reading."""

from __future__ import annotations

import asyncio
import signal

from fault_run import Figure, assert_no_bar_lost, now_s, watched
from owned_servers import OwnedRedis

STALL_S = 4.0


async def test_redis_sigkilled_and_restarted_loses_nothing_silently(
    owned_redis: OwnedRedis, pg_database_url: str, figure: Figure
) -> None:
    async with watched(pg_database_url, owned_redis.url) as watch:
        owned_redis.kill()
        await asyncio.sleep(STALL_S)
        owned_redis.start()
        end_s = now_s()
        await watch.recovered(end_s)
        bars = await assert_no_bar_lost(watch.topology, pg_database_url)

    watch.assert_exactly_once()
    # Gateways follow Redis and the ingest writes to it: each is NOT_SERVING while it is gone.
    for role, states in watch.health.seen.items():
        assert states == ["SERVING", "NOT_SERVING", "SERVING"], role
    watch.report(figure, "redis_sigkill", end_s)
    figure("redis_sigkill_bars_stored", bars, "bars")


async def test_a_paused_redis_and_a_paused_client_resume_without_loss(
    owned_redis: OwnedRedis, pg_database_url: str, figure: Figure
) -> None:
    async with watched(pg_database_url, owned_redis.url) as watch:
        paused = watch.clients[1]
        paused.reading.clear()  # stops reading: the server's overflow policy acts on its own clock
        owned_redis.signal(signal.SIGSTOP)
        await asyncio.sleep(STALL_S)
        owned_redis.signal(signal.SIGCONT)
        paused.reading.set()
        end_s = now_s()
        await watch.recovered(end_s)
        await assert_no_bar_lost(watch.topology, pg_database_url)

    watch.assert_exactly_once()
    watch.report(figure, "redis_pause", end_s)
