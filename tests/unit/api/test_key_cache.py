"""KeyCache: cached successes and failures, their bounds, and eviction of revoked keys."""

from __future__ import annotations

from tickstock_server.adapters.memory.api_keys import MemoryApiKeyStore
from tickstock_server.api.key_cache import KeyCache

BAD_TOKEN = "tsk_0123456789ab_" + "A" * 43


class Monotonic:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


async def test_the_same_bad_token_is_looked_up_once_within_the_miss_ttl() -> None:
    # Arrange
    store = MemoryApiKeyStore()
    keys = KeyCache(store, miss_ttl_s=5.0, monotonic_s=Monotonic())

    # Act
    results = [await keys.verify(BAD_TOKEN) for _ in range(100)]

    # Assert
    assert results == [None] * 100
    assert store.verifications == 1


async def test_a_bad_token_is_looked_up_again_after_the_miss_ttl() -> None:
    # Arrange
    store = MemoryApiKeyStore()
    clock = Monotonic()
    keys = KeyCache(store, miss_ttl_s=5.0, monotonic_s=clock)
    await keys.verify(BAD_TOKEN)

    # Act
    clock.now_s += 5.0
    await keys.verify(BAD_TOKEN)

    # Assert
    assert store.verifications == 2


async def test_the_failures_table_forgets_the_oldest_when_full() -> None:
    # Arrange
    store = MemoryApiKeyStore()
    keys = KeyCache(store, max_entries=2, monotonic_s=Monotonic())
    tokens = [f"tsk_{index:012x}_" + "A" * 43 for index in range(3)]
    for token in tokens:
        await keys.verify(token)

    # Act: the last two are remembered, the first was forgotten
    for token in (tokens[1], tokens[2], tokens[0]):
        await keys.verify(token)

    # Assert
    assert store.verifications == 4


async def test_evicting_a_key_makes_the_next_call_ask_the_store() -> None:
    # Arrange
    store = MemoryApiKeyStore()
    keys = KeyCache(store, monotonic_s=Monotonic())
    issued = await store.create("alice")
    await keys.verify(issued.token)
    await store.revoke(issued.key_id)

    # Act
    keys.evict({issued.key_id})

    # Assert
    assert keys.cached(issued.token) is None
    assert await keys.verify(issued.token) is None


async def test_cached_key_ids_are_those_of_the_cached_successes() -> None:
    # Arrange
    store = MemoryApiKeyStore()
    keys = KeyCache(store, monotonic_s=Monotonic())
    alice, bob = await store.create("alice"), await store.create("bob")
    await keys.verify(alice.token)
    await keys.verify(bob.token)
    await keys.verify(BAD_TOKEN)

    # Act
    keys.evict({bob.key_id})

    # Assert
    assert keys.cached_key_ids() == {alice.key_id}


async def test_a_success_expires_after_its_ttl() -> None:
    # Arrange
    store = MemoryApiKeyStore()
    clock = Monotonic()
    keys = KeyCache(store, ttl_s=30.0, monotonic_s=clock)
    issued = await store.create("alice")
    await keys.verify(issued.token)

    # Act
    clock.now_s += 30.0

    # Assert
    assert keys.cached(issued.token) is None
