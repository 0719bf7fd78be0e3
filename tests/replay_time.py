"""A monotonic and a wall clock for paced replays that only move when the replay sleeps."""

from __future__ import annotations

WALL_NS = 1_800_000_000_000_000_000
"""The wall clock's reading at monotonic 0, UTC epoch ns."""


class FakeTime:
    """A monotonic and a wall clock that only move when the replay sleeps; records every sleep."""

    def __init__(self) -> None:
        self.mono_ns = 5_000_000_000
        self.sleeps_s: list[float] = []

    async def sleep(self, delay_s: float) -> None:
        self.sleeps_s.append(delay_s)
        self.mono_ns += round(delay_s * 1e9)

    def monotonic_ns(self) -> int:
        return self.mono_ns

    def wall_ns(self) -> int:
        return WALL_NS + self.mono_ns
