"""The feed pulse over a real Redis: what the ingest publishes, a gateway reads, the fallback's state too."""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as aioredis
from polling import eventually

from tickstock_server.bus.feed_beacon import FeedPulse, publish_feed_pulse
from tickstock_server.support.cancellation import cancel_and_wait


async def test_a_gateway_reads_the_pulse_and_the_fallback_state_the_ingest_publishes(
    client: aioredis.Redis,
) -> None:
    prefix = f"test:pulse:{uuid.uuid4().hex[:8]}:"
    active = False
    publishing = asyncio.create_task(
        publish_feed_pulse(
            client, prefix, lambda: (111, 222), fallback_active=lambda: active, interval_s=0.01
        )
    )
    pulse = FeedPulse(client, prefix, interval_s=0.01)
    reading = asyncio.create_task(pulse.run())
    try:
        await eventually(lambda: pulse.arrival_ns == 111)
        inactive_seen = pulse.fallback_active
        active = True
        await eventually(lambda: pulse.fallback_active)
    finally:
        await cancel_and_wait([publishing, reading])

    assert (pulse.arrival_ns, pulse.last_tick_ns, inactive_seen) == (111, 222, False)
