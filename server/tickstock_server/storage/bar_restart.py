"""The minute in progress at a restart: what was stored before it plus what came after it."""

from __future__ import annotations

import dataclasses

import asyncpg

from tickstock_server.domain.bar import Bar
from tickstock_server.storage.bar_quarantine import DATA_ERRORS
from tickstock_server.support.time_units import NS_PER_US

__all__ = ["RestartVolumes"]

_STORED = """
SELECT k.symbol, k.start_us, m.volume
FROM unnest($1::text[], $2::bigint[]) AS k (symbol, start_us)
JOIN ohlcv_1min m
  ON m.symbol = k.symbol AND m.ts = TIMESTAMPTZ 'epoch' + k.start_us * INTERVAL '1 microsecond'
"""

_Key = tuple[str, int]


class RestartVolumes:
    """Adds the volume stored before this process started to each symbol's first minute.

    Bars are cumulative revisions from the start of their minute *in this process*: after a restart in
    the middle of a minute, the aggregator's bar for it holds only the volume traded since. The writer's
    merge replaces the stored volume with the bar's, so the stored part would be lost. For each
    symbol's first minute this process writes, the stored volume (0 when none) is read once, before the
    first write, and added to every revision of that minute; later minutes start in this process and
    need nothing. The stored open, high and low already survive the merge.

    Only for sources whose ticks continue where the previous process stopped (a live feed): a source
    that starts its history over (a replay) would count the first minute twice. Holds two entries per
    symbol.
    """

    def __init__(self) -> None:
        self._first_ns: dict[str, int] = {}
        """The start of each symbol's first minute in this process."""
        self._stored: dict[_Key, int] = {}
        """The volume stored before this process of each symbol's first minute, once read."""

    async def adjusted(self, pool: asyncpg.Pool, bars: list[Bar], timeout_s: float) -> list[Bar]:
        """`bars` with the stored volume of before the restart added to each symbol's first minute.

        Reads the stored volumes not read yet; a base read stays valid whether or not the write that
        follows commits (the write replaces the volume with base + revision, the same each time).

        Raises:
            One of FLUSH_ERRORS when PostgreSQL is down, restarting or unreachable.
        """
        for bar in bars:
            first_ns = self._first_ns.get(bar.symbol)
            if first_ns is None or bar.start_ns < first_ns:
                self._first_ns[bar.symbol] = bar.start_ns
        unread = {
            (bar.symbol, bar.start_ns)
            for bar in bars
            if self._first_ns[bar.symbol] == bar.start_ns and (bar.symbol, bar.start_ns) not in self._stored
        }
        if unread:
            self._stored.update(await _stored_volumes(pool, sorted(unread), timeout_s))
        return [self.with_stored(bar) for bar in bars]

    def with_stored(self, bar: Bar) -> Bar:
        """`bar` with the volume stored before the restart added, once `adjusted` has read it."""
        stored = self._stored.get((bar.symbol, bar.start_ns), 0)
        return dataclasses.replace(bar, volume=bar.volume + stored) if stored else bar


async def _stored_volumes(pool: asyncpg.Pool, keys: list[_Key], timeout_s: float) -> dict[_Key, int]:
    """The stored volume of each of `keys`, 0 when not stored; a key PostgreSQL rejects counts as 0."""
    try:
        return await _read(pool, keys, timeout_s)
    except DATA_ERRORS:
        if len(keys) == 1:
            return {keys[0]: 0}  # the write will be rejected too, and quarantined
        middle = len(keys) // 2
        first = await _stored_volumes(pool, keys[:middle], timeout_s)
        return first | await _stored_volumes(pool, keys[middle:], timeout_s)


async def _read(pool: asyncpg.Pool, keys: list[_Key], timeout_s: float) -> dict[_Key, int]:
    volumes = dict.fromkeys(keys, 0)
    rows = await pool.fetch(
        _STORED,
        [symbol for symbol, _ in keys],
        [start_ns // NS_PER_US for _, start_ns in keys],
        timeout=timeout_s,
    )
    by_us = {(symbol, start_ns // NS_PER_US): (symbol, start_ns) for symbol, start_ns in keys}
    for row in rows:
        volumes[by_us[(row["symbol"], row["start_us"])]] = row["volume"]
    return volumes
