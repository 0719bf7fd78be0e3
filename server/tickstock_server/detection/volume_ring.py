"""The last N positive volumes of a symbol and their sum, packed in a fixed ring."""

from __future__ import annotations

from array import array

from tickstock_server.detection.event_fields import MAX_STORED_VOLUME

__all__ = ["VolumeRing"]


class VolumeRing:
    """The last `capacity` volumes added, in a flat signed 64-bit array (no Python object per volume).

    Attributes:
        count: Volumes held, at most `capacity`.
        total: Their sum.
    """

    __slots__ = ("_capacity", "_next", "_volumes", "count", "total")

    def __init__(self, capacity: int) -> None:
        """Create an empty ring of `capacity` (>= 1) volumes."""
        self._capacity = capacity
        self._volumes: array[int] = array("q", bytes(8 * capacity))
        self._next = self.count = self.total = 0

    def clear(self) -> None:
        """Drop every volume."""
        self._next = self.count = self.total = 0

    def add(self, volume: int) -> None:
        """Add a volume (>= 0; stored as `MAX_STORED_VOLUME` above it), dropping the oldest when full."""
        if volume > MAX_STORED_VOLUME:
            volume = MAX_STORED_VOLUME
        volumes = self._volumes
        index = self._next
        if self.count == self._capacity:
            self.total -= volumes[index]
        else:
            self.count += 1
        volumes[index] = volume
        self.total += volume
        index += 1
        self._next = 0 if index == self._capacity else index
