"""One-second points of a symbol's ticks for the surge detector: baseline split, mean volume, volatility."""

from __future__ import annotations

import math
from collections import deque

from tickstock_server.detection.price_bucket import VolatilityClass, volatility_class

__all__ = ["SurgePoints"]

Point = tuple[int, float, int]
"""A committed one-second point: (epoch second, last price, summed volume)."""


class SurgePoints:
    """The one-second points of one symbol, in O(1) amortised work per tick.

    Ticks fold into a point per second of event time: the last price and the summed volume. The
    current second's point is open (`open_*`) and accumulates; a tick of a later second commits it.
    Committed points of the last `history_s` seconds are kept (so at most `history_s`), split at the
    baseline cutoff (second <= current second - interval): `old` holds the points at or before it,
    `new` the later ones. The baseline point is then `old[-1]`, or `new[0]` when `old` is empty, and
    the split only ever moves points at the deque ends. The points of the last `volatility_window_s`
    seconds are also kept with shifted sums of their prices, for the coefficient of variation.

    The detector reads the attributes directly on its hot path; only this class writes them.

    Attributes:
        old: Committed points at or before the baseline cutoff, oldest first.
        new: Committed points after the baseline cutoff, oldest first.
        volume_sum: Summed volume of the committed points.
        open_second: Epoch second of the open point; -1 before the first tick.
        open_price: Last price of the open point.
        open_volume: Summed volume of the open point.
        split_interval_s: The interval of the current split, seconds.
    """

    __slots__ = (
        "history_s",
        "new",
        "old",
        "open_price",
        "open_second",
        "open_volume",
        "split_interval_s",
        "volatility_window_s",
        "volume_sum",
        "_vol_points",
        "_vol_shift",
        "_vol_sum",
        "_vol_sum_sq",
    )

    def __init__(self, history_s: int, volatility_window_s: int) -> None:
        """Create an empty set of points.

        Args:
            history_s: Seconds of committed points kept (>= 1).
            volatility_window_s: Points at most this many seconds old join the volatility (>= 1).
        """
        self.history_s = history_s
        self.volatility_window_s = volatility_window_s
        self.old: deque[Point] = deque()
        self.new: deque[Point] = deque()
        self._vol_points: deque[Point] = deque()
        self.clear()

    def clear(self) -> None:
        """Drop every point."""
        self.old.clear()
        self.new.clear()
        self._vol_points.clear()
        self.volume_sum = 0
        self.split_interval_s = 0
        self.open_second = -1
        self.open_price = 0.0
        self.open_volume = 0
        self._vol_shift = self._vol_sum = self._vol_sum_sq = 0.0

    def __len__(self) -> int:
        """Points held: committed points and volatility-window points."""
        return len(self.old) + len(self.new) + len(self._vol_points)

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
                self._split(second - interval_s)
                self.split_interval_s = interval_s

    def _advance(self, second: int, interval_s: int) -> None:
        old = self.old
        new = self.new
        vol_points = self._vol_points
        open_second = self.open_second
        if open_second >= 0:
            price = self.open_price
            volume = self.open_volume
            point = (open_second, price, volume)
            new.append(point)
            self.volume_sum += volume
            if vol_points:
                shifted = price - self._vol_shift
                self._vol_sum += shifted
                self._vol_sum_sq += shifted * shifted
            else:
                self._vol_shift = price
                self._vol_sum = self._vol_sum_sq = 0.0
            vol_points.append(point)

        oldest = second - self.history_s
        while old and old[0][0] < oldest:
            self.volume_sum -= old.popleft()[2]
        if not old:  # after a gap in the ticks, points not yet split off may be too old as well
            while new and new[0][0] < oldest:
                self.volume_sum -= new.popleft()[2]

        oldest = second - self.volatility_window_s
        if vol_points and vol_points[0][0] < oldest:
            shift = self._vol_shift
            while vol_points and vol_points[0][0] < oldest:
                shifted = vol_points.popleft()[1] - shift
                self._vol_sum -= shifted
                self._vol_sum_sq -= shifted * shifted
            if not vol_points:
                self._vol_sum = self._vol_sum_sq = 0.0

        cutoff = second - interval_s
        while new and new[0][0] <= cutoff:  # the forward half of _split, inlined: it runs for most ticks
            old.append(new.popleft())
        if interval_s != self.split_interval_s:
            self._split(cutoff)
            self.split_interval_s = interval_s

    def _split(self, cutoff: int) -> None:
        old = self.old
        new = self.new
        while new and new[0][0] <= cutoff:
            old.append(new.popleft())
        while old and old[-1][0] > cutoff:  # only after the interval grew (a period change)
            new.appendleft(old.pop())

    def volatility(self, price: float) -> VolatilityClass:
        """Classify the sample coefficient of variation of the window's point prices and `price`.

        Fewer than two prices are NORMAL (original: `calculate_surge_volatility`, which used the sample
        standard deviation too).
        """
        count = len(self._vol_points) + 1
        if count < 2:
            return VolatilityClass.NORMAL
        shifted = price - self._vol_shift
        total = self._vol_sum + shifted
        variance = max((self._vol_sum_sq + shifted * shifted - total * total / count) / (count - 1), 0.0)
        return volatility_class(math.sqrt(variance) / (self._vol_shift + total / count))
