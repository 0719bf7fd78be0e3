"""The cross-user access matrix against a real `tickstock-server` over PostgreSQL and Redis.

tests/api/test_cross_user_matrix.py runs it in process over the memory fakes; here the stores, their
queries and the wiring are the shipped ones (EventService resolving watchlists in PostgreSQL, backtests
queued in Redis). One server serves every entry, each with a fresh pair of users, since the owner's own
call may delete or change the owner's resource. The test subscribes to the backtest job channel, as
TickStockPL does: a job no producer hears is FAILED at once, and a failed backtest cannot be cancelled.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg
import grpc
import redis.asyncio
from cross_user_probe import Users, lists, probe, shown
from cross_user_table import ENTRIES
from server_process import free_port, server_env, serving

from tickstock_server.producer.channels import ProducerChannels
from tickstock_server.storage.api_keys import PgApiKeyStore


@contextlib.asynccontextmanager
async def _producer_listening(redis_url: str) -> AsyncIterator[None]:
    """A subscriber on the backtest job channel (the jobs it receives are left unread)."""
    client = redis.asyncio.from_url(redis_url)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(ProducerChannels().backtest_jobs)
        assert await pubsub.get_message(timeout=5.0) is not None  # the subscription is live
        yield
    finally:
        await pubsub.aclose()
        await client.aclose()


async def _keys(pool: asyncpg.Pool, *users: str) -> list[tuple[tuple[str, str], ...]]:
    store = PgApiKeyStore(pool)
    return [(("authorization", f"Bearer {(await store.create(user)).token}"),) for user in users]


async def test_every_entry_of_the_matrix_holds_on_a_real_server(pg_database_url: str, redis_url: str) -> None:
    # Arrange
    port = free_port()
    env = server_env(
        port,
        TICKSTOCK_DATABASE_URL=pg_database_url,
        TICKSTOCK_REDIS_URL=redis_url,
        TICKSTOCK_PATTERNS__SIMULATOR="off",  # it would move the backtests along between two reads
    )
    answered: dict[str, object] = {}
    async with (
        _producer_listening(redis_url),
        serving(env, port),
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        pool = await asyncpg.create_pool(pg_database_url, min_size=1, max_size=2)
        try:
            # Act
            alice, bob = await _keys(pool, "alice-lists", "bob-lists")
            users = await Users.create(channel, alice, bob)
            of_alice, of_bob = await lists(channel, alice), await lists(channel, bob)
            answered["lists"] = (
                shown(of_alice, users.bobs),
                shown(of_bob, users.alices),
                all(shown(of_alice, users.alices).values()),
                all(shown(of_bob, users.bobs).values()),
            )
            for number, entry in enumerate(ENTRIES):
                alice, bob = await _keys(pool, f"alice-{number}", f"bob-{number}")
                probed = await probe(await Users.create(channel, alice, bob), entry)
                answered[entry.id] = (probed.codes, probed.leaked, probed.unchanged)
        finally:
            await pool.close()

    # Assert
    no_one_elses = {name: set() for name in of_alice}
    assert answered == {
        "lists": (no_one_elses, no_one_elses, True, True),
        **{entry.id: ((entry.other, entry.other, entry.owner), set(), True) for entry in ENTRIES},
    }
