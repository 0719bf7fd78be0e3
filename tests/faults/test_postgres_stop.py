"""PostgreSQL stopped for 60 s and started again while clients stream: events keep flowing (they go
through Redis), the ingest reports its bar writer unhealthy, and every bar reaches PostgreSQL after."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fault_run import Figure, assert_no_bar_lost, metric, now_s, watched
from owned_servers import start_postgres, stop_postgres

STOP_S = 60.0


async def test_postgres_stopped_for_60_s_loses_no_event_and_no_bar(
    owned_postgres: tuple[Path, str], redis_url: str, figure: Figure
) -> None:
    directory, database_url = owned_postgres
    async with watched(database_url, redis_url) as watch:
        await asyncio.to_thread(stop_postgres, directory)
        stop_s = now_s()
        await asyncio.sleep(STOP_S)
        during = sum(stop_s < r.at_s for r in watch.clients[0].received)
        failures = await asyncio.to_thread(metric, watch.topology, "tickstock_bar_flush_failures_total")
        await asyncio.to_thread(start_postgres, directory)
        end_s = now_s()
        await watch.recovered(end_s)
        bars = await assert_no_bar_lost(watch.topology, database_url)

    watch.assert_exactly_once()
    assert [client.state.gaps for client in watch.clients] == [[], []]
    assert during > 0, "events flow while PostgreSQL is down"
    assert failures > 0, "the writer must have tried and failed while PostgreSQL was down"
    assert watch.health.seen["ingest"] == ["SERVING", "NOT_SERVING", "SERVING"]
    watch.report(figure, "postgres_stop", end_s)
    figure("postgres_stop_bars_stored", bars, "bars")
    figure("postgres_stop_flush_failures", failures, "failures")
