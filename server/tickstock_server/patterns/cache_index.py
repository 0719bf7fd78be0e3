r"""`SortedIndex` and its byte-string items: the pattern cache's order by each sort field.

An item is ``key + pattern_id + b"\0" + slot`` (slot as 4 bytes), where the key bytes sort like the
value: IEEE doubles with the sign bit flipped (all bits, for negatives), integers offset by 2**63, strings
UTF-8 encoded and NUL-terminated. Items therefore sort by (value, pattern id) with a plain byte
comparison, one memcmp instead of a tuple comparison that chases pointers to a float and a str: on a
machine where each of those is a cache miss, that halves the cost of inserts and deletes. Pattern ids
and symbols must not contain NUL (the terminator must sort below every character).
"""

from __future__ import annotations

import bisect
import itertools
import struct
from collections.abc import Iterator
from operator import itemgetter

_LOAD = 512
_SIGN_BIT = 1 << 63
_ALL_BITS = (1 << 64) - 1
_pack_double = struct.Struct(">d").pack
_unpack_u64 = struct.Struct(">Q").unpack
_pack_u64 = struct.Struct(">Q").pack
_pack_slot = struct.Struct(">I").pack
_slot_bytes = itemgetter(slice(-4, None))


def float_key(value: float) -> bytes:
    """Key bytes of a float (not NaN); -0.0 and 0.0 give the same key."""
    (bits,) = _unpack_u64(_pack_double(value + 0.0))
    return _pack_u64(bits ^ _ALL_BITS if bits & _SIGN_BIT else bits | _SIGN_BIT)


def int_key(value: int) -> bytes:
    """Key bytes of an integer in [-2**63, 2**63)."""
    return _pack_u64(value + _SIGN_BIT)


def str_key(value: str) -> bytes:
    """Key bytes of a string without NUL."""
    return value.encode() + b"\0"


def index_item(key: bytes, pattern_id: str, slot: int) -> bytes:
    """The item of a pattern with sort `key` in `slot`."""
    return key + pattern_id.encode() + b"\0" + _pack_slot(slot)


def probe_after(key: bytes, pattern_id: str) -> bytes:
    """Sorts after the items of (key, pattern id) and before those of any greater (key, id)."""
    return key + pattern_id.encode() + b"\x01"


def probe_before(key: bytes, pattern_id: str) -> bytes:
    """Sorts before the items of (key, pattern id) and after those of any smaller (key, id)."""
    return key + pattern_id.encode() + b"\0"


def item_slots(items: Iterator[bytes]) -> Iterator[int]:
    """The slots of `items`, lazily."""
    return map(int.from_bytes, map(_slot_bytes, items))


class SortedIndex:
    """Unique byte strings in ascending order, stored as a list of sorted chunks.

    A flat sorted list costs a memmove of its tail per insert and delete. Chunks of at most
    ``2 * load`` items bound the memmove, and a list of chunk maxima keeps lookups at two bisections
    (the layout of sortedcontainers' ``SortedList``, without the dependency). Positions (ranks) cost
    O(number of chunks), about 100 at 50,000 items.
    """

    __slots__ = ("_chunks", "_len", "_load", "_maxes")

    def __init__(self, load: int = _LOAD) -> None:
        """Create an empty index whose chunks hold `load` to ``2 * load`` items (fewer after deletes)."""
        if load < 2:
            raise ValueError("load must be at least 2")
        self._load = load
        self._chunks: list[list[bytes]] = []
        self._maxes: list[bytes] = []
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def add(self, item: bytes) -> None:
        """Insert `item`, which must not be in the index yet."""
        self._len += 1
        maxes = self._maxes
        if not maxes:
            self._chunks.append([item])
            maxes.append(item)
            return
        i = bisect.bisect_left(maxes, item)
        if i == len(maxes):
            i -= 1
            self._chunks[i].append(item)
            maxes[i] = item
        else:
            bisect.insort(self._chunks[i], item)
        chunk = self._chunks[i]
        if len(chunk) > 2 * self._load:
            half = chunk[self._load :]
            del chunk[self._load :]
            self._chunks.insert(i + 1, half)
            maxes[i] = chunk[-1]
            maxes.insert(i + 1, half[-1])

    def remove(self, item: bytes) -> None:
        """Delete `item`.

        Raises:
            ValueError: `item` is not in the index.
        """
        i = bisect.bisect_left(self._maxes, item)
        if i < len(self._maxes):
            chunk = self._chunks[i]
            j = bisect.bisect_left(chunk, item)
            if j < len(chunk) and chunk[j] == item:
                del chunk[j]
                self._len -= 1
                if chunk:
                    self._maxes[i] = chunk[-1]
                else:
                    del self._chunks[i]
                    del self._maxes[i]
                return
        raise ValueError("item not in index")

    def first(self) -> bytes | None:
        """The smallest item, or None when empty."""
        return self._chunks[0][0] if self._chunks else None

    def rank(self, probe: bytes) -> int:
        """Number of items that sort before `probe`."""
        i = bisect.bisect_left(self._maxes, probe)
        if i == len(self._maxes):
            return self._len
        return sum(map(len, self._chunks[:i])) + bisect.bisect_left(self._chunks[i], probe)

    def iter_range(self, start: int, stop: int, *, reverse: bool = False) -> Iterator[bytes]:
        """Items at positions `start` (inclusive) to `stop` (exclusive); descending if `reverse`.

        Lazy: chunks are sliced as the iteration reaches them. The index must not change meanwhile.
        """
        parts: list[tuple[list[bytes], int, int]] = []
        position = 0
        for chunk in self._chunks:
            if position >= stop:
                break
            end = position + len(chunk)
            if end > start:
                parts.append((chunk, max(start - position, 0), min(stop - position, len(chunk))))
            position = end
        if reverse:
            return itertools.chain.from_iterable(reversed(chunk[a:b]) for chunk, a, b in reversed(parts))
        return itertools.chain.from_iterable(itertools.islice(chunk, a, b) for chunk, a, b in parts)
