"""The ticks of one shard's symbols, read no faster than the shard may detect them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from tickstock_server.bus.shard_store import ShardEventStore
from tickstock_server.domain.shards import Shard
from tickstock_server.domain.tick import Tick
from tickstock_server.ports.feeds import TickSource

MAX_EVENTS_PER_TICK = 3
"""A tick gives at most a high or low, a trend and a surge event."""
PATTERN_ALLOWANCE = 64
"""Ordinals kept free for the producer's patterns, which join the log between two batches of ticks."""
_OWNERS_CAPACITY = 100_000
"""Symbols whose shard is remembered; beyond it the memory starts again (the hash is cheap)."""


class ShardTicks:
    """A `TickSource` of the ticks of `shard`'s symbols from the whole of `source`.

    Before each batch it waits until the shard's store may take the batch's events (see
    `ShardEventStore.reserve_ordinals`): while Redis is unreachable the shard stops reading its feed
    rather than hold events it could lose without knowing how many.
    """

    def __init__(self, source: TickSource, shard: Shard, store: ShardEventStore) -> None:
        self._source = source
        self._shard = shard
        self._store = store
        self._owners: dict[str, bool] = {}

    @property
    def rejected(self) -> Mapping[str, int]:
        """The whole feed's rejections."""
        return self._source.rejected

    async def ticks(self) -> AsyncIterator[list[Tick]]:
        """The feed's batches, each with this shard's ticks only."""
        owners = self._owners
        owns = self._shard.owns
        async for batch in self._source.ticks():
            mine = []
            for tick in batch:
                owned = owners.get(tick.symbol)
                if owned is None:
                    if len(owners) >= _OWNERS_CAPACITY:
                        owners.clear()
                    owned = owners[tick.symbol] = owns(tick.symbol)
                if owned:
                    mine.append(tick)
            await self._store.reserve_ordinals(len(mine) * MAX_EVENTS_PER_TICK + PATTERN_ALLOWANCE)
            yield mine
