"""One-second points of a symbol's ticks for the surge detector: baseline split, mean volume, volatility."""

from __future__ import annotations

import math

from tickstock_server.detection.event_fields import MAX_STORED_VOLUME
from tickstock_server.detection.packed_columns import IntColumn, PriceColumn, SecondColumn
from tickstock_server.detection.price_bucket import VolatilityClass, volatility_class

__all__ = ["SurgePoints"]

# Expired points at the head of the arrays are deleted in batches of at least this many.
_COMPACT_POINTS = 32


class SurgePoints:
    """The one-second points of one symbol, in O(1) amortised work per tick.

    Ticks fold into a point per second of event time: the last price and the summed volume. The
    current second's point is open (`open_*`) and accumulates; a tick of a later second commits it.
    Committed points are stored packed, in flat columns of seconds, prices and volumes (8 bytes a
    point while each value fits 2 or 4 bytes exactly, see `packed_columns`; no Python objects for the
    garbage collector to scan), time-ordered. Three positions in them
    mark the windows:

    - the history: points of the last `history_s` seconds, from `head`; it is split at the baseline
      cutoff (second <= current second - interval) at `split`: points before it are at or before the
      cutoff. The baseline point is the last one before the split, or the first after it when none
      is; the split only ever moves by whole points;
    - the volatility window: points of the last `volatility_window_s` seconds, with shifted sums of
      their prices for the coefficient of variation.

    Expired points are deleted from the arrays in batches.

    Attributes:
        volume_sum: Summed volume of the history's points.
        open_second: Epoch second of the open point; -1 before the first tick.
        open_price: Last price of the open point.
        open_volume: Summed volume of the open point.
        split_interval_s: The interval of the current split, seconds.
    """

    __slots__ = (
        "_head",
        "_prices",
        "_seconds",
        "_split",
        "_vol_head",
        "_vol_shift",
        "_vol_sum",
        "_vol_sum_sq",
        "_volumes",
        "history_s",
        "open_price",
        "open_second",
        "open_volume",
        "split_interval_s",
        "volatility_window_s",
        "volume_sum",
    )

    def __init__(self, history_s: int, volatility_window_s: int) -> None:
        """Create an empty set of points.

        Args:
            history_s: Seconds of committed points kept (>= 1).
            volatility_window_s: Points at most this many seconds old join the volatility (>= 1).
        """
        self.history_s = history_s
        self.volatility_window_s = volatility_window_s
        self._seconds = SecondColumn()
        self._prices = PriceColumn()
        self._volumes = IntColumn()
        self.clear()

    def clear(self) -> None:
        """Drop every point."""
        self._seconds.clear()
        self._prices.clear()
        self._volumes.clear()
        self._head = self._split = self._vol_head = 0
        self.volume_sum = 0
        self.split_interval_s = 0
        self.open_second = -1
        self.open_price = 0.0
        self.open_volume = 0
        self._vol_shift = self._vol_sum = self._vol_sum_sq = 0.0

    def __len__(self) -> int:
        """Points in the windows: the history's and the volatility window's (a point in both counts twice).

        The arrays hold these and fewer than a compaction batch of expired points.
        """
        end = len(self._seconds.values)
        return 2 * end - self._head - self._vol_head

    @property
    def held_points(self) -> int:
        """Points in the columns."""
        return len(self._seconds.values)

    def count(self) -> int:
        """Committed points in the history."""
        return len(self._seconds.values) - self._head

    def baseline_price(self) -> float:
        """Price of the baseline point: the newest at or before the cutoff, else the oldest (count >= 1)."""
        split = self._split
        return self._prices.at(split - 1 if split > self._head else split)

    def add(self, second: int, price: float, volume: int, interval_s: int) -> None:
        """Fold a tick into the open point, committing the previous one when the second changes.

        Args:
            second: The tick's epoch second (`ts_ns // 1e9`), not before the previous tick's.
            price: The tick's price.
            volume: The tick's volume.
            interval_s: The current baseline interval; the split follows it when it changes.
        """
        if second != self.open_second:
            self._advance(second, interval_s)
            self.open_second = second
            self.open_price = price
            self.open_volume = volume
        else:
            self.open_price = price
            self.open_volume += volume
            if interval_s != self.split_interval_s:
                self._split_at(second - interval_s - self._seconds.base)
                self.split_interval_s = interval_s

    def _advance(self, second: int, interval_s: int) -> None:
        if self.open_second >= 0:
            price = self.open_price
            volume = self.open_volume
            if volume > MAX_STORED_VOLUME:
                volume = MAX_STORED_VOLUME
            self.volume_sum += volume
            if self._vol_head < len(self._seconds.values):
                shifted = price - self._vol_shift
                self._vol_sum += shifted
                self._vol_sum_sq += shifted * shifted
            else:
                self._vol_shift = price
                self._vol_sum = self._vol_sum_sq = 0.0
            self._seconds.append(self.open_second)
            self._prices.append(price)
            self._volumes.append(volume)
        seconds = self._seconds.values
        end = len(seconds)
        second -= self._seconds.base  # compared with the held offsets from here on

        oldest = second - self.history_s
        head = self._head
        if head < end and seconds[head] < oldest:
            volumes = self._volumes.values
            while head < end and seconds[head] < oldest:
                self.volume_sum -= volumes[head]
                head += 1
            self._head = head
            if self._split < head:
                self._split = head

        oldest = second - self.volatility_window_s
        vol_head = self._vol_head
        if vol_head < end and seconds[vol_head] < oldest:
            shift = self._vol_shift
            prices = self._prices.values
            price_scale = self._prices.scale
            while vol_head < end and seconds[vol_head] < oldest:
                shifted = prices[vol_head] / price_scale - shift
                self._vol_sum -= shifted
                self._vol_sum_sq -= shifted * shifted
                vol_head += 1
            self._vol_head = vol_head
            if vol_head == end:
                self._vol_sum = self._vol_sum_sq = 0.0

        cutoff = second - interval_s
        split = self._split
        while split < end and seconds[split] <= cutoff:  # the forward half of _split_at, inlined
            split += 1
        self._split = split
        if interval_s != self.split_interval_s:
            self._split_at(cutoff)
            self.split_interval_s = interval_s
        if head >= _COMPACT_POINTS and vol_head >= _COMPACT_POINTS:
            self._compact(min(head, vol_head))

    def _split_at(self, cutoff: int) -> None:
        """Put the split after the points at or before `cutoff`, an offset from the seconds' base."""
        seconds = self._seconds.values
        end = len(seconds)
        split = self._split
        while split < end and seconds[split] <= cutoff:
            split += 1
        while split > self._head and seconds[split - 1] > cutoff:  # only after the interval grew
            split -= 1
        self._split = split

    def _compact(self, head: int) -> None:
        self._seconds.delete_head(head)
        self._prices.delete_head(head)
        self._volumes.delete_head(head)
        self._head -= head
        self._split -= head
        self._vol_head -= head

    def volatility(self, price: float) -> VolatilityClass:
        """Classify the sample coefficient of variation of the window's point prices and `price`.

        Fewer than two prices are NORMAL (original: `calculate_surge_volatility`, which used the sample
        standard deviation too).
        """
        count = len(self._seconds.values) - self._vol_head + 1
        if count < 2:
            return VolatilityClass.NORMAL
        shifted = price - self._vol_shift
        total = self._vol_sum + shifted
        variance = max((self._vol_sum_sq + shifted * shifted - total * total / count) / (count - 1), 0.0)
        return volatility_class(math.sqrt(variance) / (self._vol_shift + total / count))
