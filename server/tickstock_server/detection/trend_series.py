"""The running sums of a trend point series as of one position, advanced one point at a time."""

from __future__ import annotations

__all__ = ["SeriesSums"]


class SeriesSums:
    """Series-wide running sums of the one-second points before position `offset`.

    The trend windows keep one of these for the whole series (after the newest point) and one at the
    head of each window (before its oldest point). Every one of them is advanced over each point by the
    same `take`, so a head holds bit for bit the sums the series had when that point was committed, and
    a window's sums are differences of two of them. Storing only the points' inputs (second, price,
    volume, VWAP ratio) and replaying them at the heads costs a few floating-point operations per point
    and head, and saves storing nine running sums with every point.

    Price totals are relative to the series' shift (the same for every position); the decayed change,
    flow, ratio and ratio-change sums follow G = decay x G + x per value.

    Attributes:
        offset: Index of the next point to take in the series' point arrays.
        price_total: Sum of (price - shift) of the points taken since the last re-anchor.
        price_sq_total: Sum of (price - shift) squared, likewise.
        change_sum: Decayed sum of price changes, each against the previous point (the first point
            after a clear counts no change).
        flow_sum: Decayed sum of sign(change) x volume.
        last_price: Price of the last point taken; 0 before any.
        volume_total: Volumes of the points taken.
        volume_points: Points taken with a positive volume.
        ratio_count: Points taken with a VWAP ratio.
        ratio_sum: Decayed sum of the ratios.
        ratio_change_sum: Decayed sum of ratio changes, each against the previous ratio (the first
            counts none).
        last_ratio: The last ratio taken, or None.
    """

    __slots__ = (
        "change_sum",
        "flow_sum",
        "last_price",
        "last_ratio",
        "offset",
        "price_sq_total",
        "price_total",
        "ratio_change_sum",
        "ratio_count",
        "ratio_sum",
        "volume_points",
        "volume_total",
    )

    def __init__(self) -> None:
        """Create the sums of an empty series."""
        self.offset = self.volume_total = self.volume_points = self.ratio_count = 0
        self.price_total = self.price_sq_total = self.change_sum = self.flow_sum = 0.0
        self.last_price = self.ratio_sum = self.ratio_change_sum = 0.0
        self.last_ratio: float | None = None

    def copy_from(self, other: SeriesSums) -> None:
        """Take every sum and the position of `other`."""
        self.offset = other.offset
        self.price_total = other.price_total
        self.price_sq_total = other.price_sq_total
        self.change_sum = other.change_sum
        self.flow_sum = other.flow_sum
        self.last_price = other.last_price
        self.volume_total = other.volume_total
        self.volume_points = other.volume_points
        self.ratio_count = other.ratio_count
        self.ratio_sum = other.ratio_sum
        self.ratio_change_sum = other.ratio_change_sum
        self.last_ratio = other.last_ratio

    def take(self, price: float, volume: int, ratio: float | None, shift: float, decay: float) -> None:
        """Add the point at `offset` (its price, volume and VWAP ratio) and move past it."""
        last_price = self.last_price
        change = price - last_price if last_price else 0.0
        self.change_sum = decay * self.change_sum + change
        self.flow_sum = decay * self.flow_sum + (volume if change > 0 else -volume if change < 0 else 0)
        shifted = price - shift
        self.price_total += shifted
        self.price_sq_total += shifted * shifted
        self.volume_total += volume
        if volume > 0:
            self.volume_points += 1
        self.last_price = price
        if ratio is not None:
            self.ratio_sum = decay * self.ratio_sum + ratio
            last_ratio = self.last_ratio
            self.ratio_change_sum = decay * self.ratio_change_sum + (
                0.0 if last_ratio is None else ratio - last_ratio
            )
            self.ratio_count += 1
            self.last_ratio = ratio
        self.offset += 1

    def change_after(self, price: float, decay: float) -> float:
        """The change sum just after taking a point of `price` (without taking it)."""
        last_price = self.last_price
        return decay * self.change_sum + (price - last_price if last_price else 0.0)

    def flow_after(self, price: float, volume: int, decay: float) -> float:
        """The flow sum just after taking a point of `price` and `volume` (without taking it)."""
        last_price = self.last_price
        change = price - last_price if last_price else 0.0
        return decay * self.flow_sum + (volume if change > 0 else -volume if change < 0 else 0)

    def ratio_change_after(self, ratio: float, decay: float) -> float:
        """The ratio change sum just after taking a ratio (without taking it)."""
        last_ratio = self.last_ratio
        return decay * self.ratio_change_sum + (0.0 if last_ratio is None else ratio - last_ratio)
