"""Which ingest shard detects a symbol: a stable hash of the symbol, the same in every process and run."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

MAX_SHARDS = 64
"""Most shards one log may have."""

_SPEC = re.compile(r"(\d{1,2})/(\d{1,2})")


def shard_of(symbol: str, count: int) -> int:
    """The shard (0 to count - 1) that detects `symbol`: CRC-32 of its UTF-8 bytes, modulo `count`.

    Python's `hash` would not do: it differs between processes.
    """
    return zlib.crc32(symbol.encode()) % count


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard `index` of `count` (0/1: the only one, which detects every symbol)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARDS or not 0 <= self.index < self.count:
            raise ValueError(f"a shard is K/N with 0 <= K < N <= {MAX_SHARDS}, not {self.index}/{self.count}")

    @classmethod
    def parse(cls, spec: str) -> Shard:
        """The shard of "K/N", e.g. "1/2"."""
        match = _SPEC.fullmatch(spec.strip())
        if match is None:
            raise ValueError(f"a shard is written K/N, e.g. 1/2, not {spec[:16]!r}")
        return cls(int(match[1]), int(match[2]))

    def owns(self, symbol: str) -> bool:
        """Whether this shard detects `symbol`."""
        return self.count == 1 or zlib.crc32(symbol.encode()) % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
