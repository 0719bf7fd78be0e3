"""`PatternColumns`: the pattern cache's filter fields as byte columns, so that scan filters run at C speed.

Each cached pattern occupies a slot (a row); freed slots are reused, and the columns are dropped when
the last pattern goes. Per slot, one byte holds each of: liveness; the confidence, relative strength,
relative volume and RSI, each quantised to a level 0..255 by a non-decreasing function; the pattern
type's code; the timeframe's code.

A filter becomes a mask (one byte per slot, 1 = passes): `bytes.translate` maps each slot's level to 1
(passes), 0 (fails) or 2 (the bound falls inside this level, so the exact value decides), and only the
few slots marked 2 are resolved in Python from their entries. Masks are combined as Python ints (``&``)
and counted with `int.bit_count`. Counting the matches of a query over 50,000 patterns thus touches a
few hundred entries instead of all of them; touching an entry costs a cache miss, about 100 ns.
"""

from __future__ import annotations

import collections
import itertools
import math
from collections.abc import Callable, Iterable, Mapping

from tickstock_server.domain.patterns import PatternTimeframe
from tickstock_server.patterns.cache_entry import CacheEntry

_TOP_LEVEL = 255
_OVERFLOW_TYPE_CODE = 255  # shared by pattern types beyond the 254 that get a code of their own
_TIMEFRAME_CODES: Mapping[PatternTimeframe | None, int] = {
    None: 0,
    PatternTimeframe.DAILY: 1,
    PatternTimeframe.INTRADAY: 2,
    PatternTimeframe.COMBO: 3,
}
_PASS, _CHECK = 1, 2
_IS_CHECK = bytes(int(level == _CHECK) for level in range(256))


def _unit_level(value: float) -> int:
    """Confidence (0..1) in steps of 0.005."""
    if value <= 0.0:
        return 0
    if value >= _TOP_LEVEL / 200:
        return _TOP_LEVEL
    return int(value * 200)


def _rsi_level(value: float) -> int:
    """RSI (0..100) in steps of 0.4."""
    if value <= 0.0:
        return 0
    if value >= _TOP_LEVEL / 2.5:
        return _TOP_LEVEL
    return int(value * 2.5)


def _ratio_level(value: float) -> int:
    """Ratio (relative strength or volume) from 0 to 12.75 in steps of 0.05.

    Linear rather than logarithmic so that round bounds (1.2, 1.5, 2.0) fall on level edges, where a
    bound needs no exact checks.
    """
    if value <= 0.0:
        return 0
    if value >= _TOP_LEVEL / 20:
        return _TOP_LEVEL
    return int(value * 20)


NUMERIC_FIELDS: Mapping[str, Callable[[float], int]] = {
    "confidence": _unit_level,
    "relative_strength": _ratio_level,
    "relative_volume": _ratio_level,
    "rsi": _rsi_level,
}
"""Quantiser of each numeric `CacheEntry` attribute that range filters apply to."""


def _positions_of_one(flags: bytes | bytearray) -> list[int]:
    """Positions of the 1 bytes of `flags`.

    A `bytes.find` loop: cheap when they are few, unlike ``itertools.compress(itertools.count(), flags)``,
    which makes an int for every position.
    """
    positions: list[int] = []
    find = flags.find
    position = find(1)
    while position >= 0:
        positions.append(position)
        position = find(1, position + 1)
    return positions


class PatternColumns:
    """Slots of cached entries with their filter fields as byte columns; masks are ints, bit i = slot i."""

    def __init__(self) -> None:
        self._entries: list[CacheEntry | None] = []
        self._free: list[int] = []
        self._live = bytearray()
        self._numeric = {name: bytearray() for name in NUMERIC_FIELDS}
        self._types = bytearray()
        self._timeframes = bytearray()
        self._type_codes: dict[str, int] = {}
        self._type_counts: dict[str, int] = {}
        self._free_type_codes = list(range(_OVERFLOW_TYPE_CODE - 1, 0, -1))

    @property
    def capacity(self) -> int:
        """Slots in use or free; the length of every column and mask."""
        return len(self._entries)

    def type_counts(self) -> dict[str, int]:
        """Live entries per pattern type."""
        return dict(self._type_counts)

    def add(self, entry: CacheEntry) -> None:
        """Give `entry` a slot (stored in ``entry.slot``) and record its fields."""
        if self._free:
            slot = self._free.pop()
        else:
            slot = len(self._entries)
            self._entries.append(None)
            self._live.append(0)
            for column in self._numeric.values():
                column.append(0)
            self._types.append(0)
            self._timeframes.append(0)
        entry.slot = slot
        self._entries[slot] = entry
        self._live[slot] = 1
        for name, quantise in NUMERIC_FIELDS.items():
            self._numeric[name][slot] = quantise(getattr(entry, name))
        self._types[slot] = self._acquire_type_code(entry.pattern_type)
        self._timeframes[slot] = _TIMEFRAME_CODES[entry.timeframe]

    def remove(self, entry: CacheEntry) -> None:
        """Free the slot of `entry`; drop all columns once no entry is left."""
        slot = entry.slot
        self._entries[slot] = None
        self._live[slot] = 0
        self._release_type_code(entry.pattern_type)
        self._free.append(slot)
        entry.slot = -1
        if len(self._free) == len(self._entries):
            self._entries.clear()
            self._free.clear()
            self._live.clear()
            for column in self._numeric.values():
                column.clear()
            self._types.clear()
            self._timeframes.clear()

    def entry(self, slot: int) -> CacheEntry:
        """The entry in `slot`, which must be live."""
        entry = self._entries[slot]
        assert entry is not None
        return entry

    def live_mask(self) -> int:
        """Mask of the slots holding an entry."""
        return int.from_bytes(self._live, "little")

    def slots_mask(self, slots: Iterable[int]) -> int:
        """Mask of `slots`."""
        mask = bytearray(len(self._entries))
        collections.deque(map(mask.__setitem__, slots, itertools.repeat(_PASS)), maxlen=0)
        return int.from_bytes(mask, "little")

    def type_mask(self, pattern_types: frozenset[str]) -> int:
        """Mask of the slots whose pattern type is in `pattern_types` (dead slots included)."""
        table = bytearray(256)
        for name in pattern_types:
            code = self._type_codes.get(name)
            if code is not None:
                table[code] = _CHECK if code == _OVERFLOW_TYPE_CODE else _PASS
        return self._resolve(self._types.translate(table), lambda e: e.pattern_type in pattern_types)

    def timeframe_mask(self, timeframes: frozenset[PatternTimeframe]) -> int:
        """Mask of the slots whose timeframe is in `timeframes` (dead slots included)."""
        table = bytearray(256)
        for timeframe in timeframes:
            table[_TIMEFRAME_CODES[timeframe]] = _PASS
        return int.from_bytes(self._timeframes.translate(table), "little")

    def range_mask(self, name: str, low: float | None, high: float | None) -> int:
        """Mask of the slots whose `name` value is in [low, high] (None: unbounded; dead slots included)."""
        quantise = NUMERIC_FIELDS[name]
        low = None if low == -math.inf else low
        high = None if high == math.inf else high
        low_level = 0 if low is None else quantise(low)
        high_level = _TOP_LEVEL if high is None else quantise(high)
        table = bytearray(256)
        table[low_level : high_level + 1] = bytes([_PASS]) * (high_level - low_level + 1)
        # A bound decides its own level wholesale only if it sits at the level's edge: no value on the
        # wrong side of the bound can share the level.
        if low is not None and quantise(math.nextafter(low, -math.inf)) == low_level:
            table[low_level] = _CHECK
        if high is not None and quantise(math.nextafter(high, math.inf)) == high_level:
            table[high_level] = _CHECK

        def exact(entry: CacheEntry) -> bool:
            value: float = getattr(entry, name)
            return (low is None or value >= low) and (high is None or value <= high)

        return self._resolve(self._numeric[name].translate(table), exact)

    def to_bytes(self, mask: int) -> bytes:
        """`mask` as one byte per slot (0 or 1), for `bytes.__getitem__` lookups and `matching_slots`."""
        return mask.to_bytes(len(self._entries), "little")

    @staticmethod
    def matching_slots(mask: bytes) -> list[int]:
        """The slots set in `mask` (from `to_bytes`), ascending."""
        return _positions_of_one(mask)

    def _resolve(self, levels: bytes | bytearray, exact: Callable[[CacheEntry], bool]) -> int:
        """Turn translated levels (0, 1 or 2 = check) into a mask, checking the 2s with `exact`."""
        checks = _positions_of_one(levels.translate(_IS_CHECK))
        if checks:
            resolved = bytearray(levels)
            for slot in checks:
                entry = self._entries[slot]
                resolved[slot] = _PASS if entry is not None and exact(entry) else 0
            levels = resolved
        return int.from_bytes(levels, "little")

    def _acquire_type_code(self, name: str) -> int:
        count = self._type_counts.get(name, 0)
        self._type_counts[name] = count + 1
        if count:
            return self._type_codes[name]
        code = self._free_type_codes.pop() if self._free_type_codes else _OVERFLOW_TYPE_CODE
        self._type_codes[name] = code
        return code

    def _release_type_code(self, name: str) -> None:
        count = self._type_counts[name] - 1
        if count:
            self._type_counts[name] = count
            return
        del self._type_counts[name]
        code = self._type_codes.pop(name)
        if code != _OVERFLOW_TYPE_CODE:
            self._free_type_codes.append(code)
