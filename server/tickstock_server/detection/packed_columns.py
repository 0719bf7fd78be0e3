"""Growable flat columns of detector points, 2 or 4 bytes a value while the values allow it.

A symbol's detectors hold hundreds of one-second points, so the width of a stored value decides most of
the detector state's size. Market data rarely needs 8 bytes a value: the seconds of a window are a few
hundred apart, most one-second volumes fit in 16 bits and nearly all in 32, and prices and VWAPs are
decimals of at most 4 places. Each column
starts narrow and widens, for good and with every value kept exactly, the first time a value does not
fit: the values read back are always exactly those appended, so the detectors' arithmetic, and thus
every event, is the same as with 8-byte columns.
"""

from __future__ import annotations

from array import array
from typing import cast

__all__ = ["IntColumn", "PriceColumn", "SecondColumn"]


def _narrow_prices() -> array[float]:
    """An empty array of 32-bit integers, typed as floats.

    Reading an element gives an int where the type says float. Python and mypyc both take an int where a
    float is expected, converting it exactly (the scaled prices are far below 2**53), so the hot loops
    read `values[i] / scale` with no boxed arithmetic in the compiled build.
    """
    return cast("array[float]", array("i"))


# Seconds are held as 16-bit offsets below this.
_OFFSET_LIMIT = 2**16

# Prices are held as whole 1/10,000ths in a signed 32-bit integer while that represents them exactly.
_PRICE_SCALE = 10_000.0
_MAX_SCALED_PRICE = (2**31 - 1) / _PRICE_SCALE


class IntColumn:
    """Non-negative integers, 16 bits wide until one does not fit, then 32, then signed 64.

    Attributes:
        values: The values, oldest first; read them by index.
    """

    __slots__ = ("values",)

    def __init__(self) -> None:
        """Create an empty, narrow column."""
        self.values: array[int] = array("H")

    def append(self, value: int) -> None:
        """Append a value in [0, 2**63 - 1] (or any signed 64-bit value once wide)."""
        try:
            self.values.append(value)
        except OverflowError:
            self.values = array("I" if 0 <= value < 2**32 else "q", self.values)
            self.values.append(value)

    def delete_head(self, count: int) -> None:
        """Drop the oldest `count` values."""
        del self.values[:count]

    def clear(self) -> None:
        """Drop every value and become narrow again."""
        self.values = array("H")

    @property
    def itemsize(self) -> int:
        """Bytes a value takes now: 2, 4 or 8."""
        return self.values.itemsize


class SecondColumn:
    """Non-decreasing epoch seconds, as 16-bit offsets from a base second while they span < 18 hours.

    The base is the oldest held second, moved forward (the offsets rewritten) when a new second is
    65,536 s or more past it. A second that cannot be held that way (the held seconds span more, or it
    is before the base) turns the column into signed 64-bit offsets from the same base, for good until
    cleared. A held second is `values[i] + base`; compare offsets with `second - base` in hot loops.

    Attributes:
        values: The offsets, oldest first.
        base: The second an offset counts from; read it again after every `append`.
    """

    __slots__ = ("base", "values")

    def __init__(self) -> None:
        """Create an empty, narrow column."""
        self.values: array[int] = array("H")
        self.base = 0

    def append(self, second: int) -> None:
        """Append a second (not before the last one appended, to stay narrow)."""
        values = self.values
        if not values:
            self.base = second
        try:
            values.append(second - self.base)
        except OverflowError:  # only a narrow column refuses an offset
            offset = second - self.base
            shift = values[0]
            if 0 <= offset - shift < _OFFSET_LIMIT:
                self.values = array("H", [value - shift for value in values])
                self.base += shift
                offset -= shift
            else:
                self.values = array("q", values)
            self.values.append(offset)

    def delete_head(self, count: int) -> None:
        """Drop the oldest `count` seconds."""
        del self.values[:count]

    def clear(self) -> None:
        """Drop every second and become narrow again."""
        self.values = array("H")
        self.base = 0

    @property
    def itemsize(self) -> int:
        """Bytes an offset takes now: 2, or 8 once widened."""
        return self.values.itemsize


class PriceColumn:
    """Positive prices, as whole 1/10,000ths in 32 bits while exact, else as doubles.

    A price is held narrow only if dividing its scaled integer by 10,000 gives back the identical
    double, which is the value `at` returns; any other value (more decimal places, above $214,748.3647,
    or not positive) turns the column into doubles, converting the held values exactly.

    Attributes:
        values: The stored values, oldest first: scaled integers while narrow, else the prices.
        scale: What a stored value is divided by to give its price: 10,000.0 while narrow, else 1.0
            (division by 1.0 is exact), so `values[i] / scale` reads any price in a hot loop.
    """

    __slots__ = ("scale", "values")

    def __init__(self) -> None:
        """Create an empty, narrow column."""
        self.values = _narrow_prices()
        self.scale = _PRICE_SCALE

    def append(self, price: float) -> None:
        """Append a price, widening the column to doubles when it cannot be held narrow."""
        if self.scale != 1.0:
            if 0.0 < price <= _MAX_SCALED_PRICE:
                scaled = int(price * _PRICE_SCALE + 0.5)  # the nearest whole number (positive)
                if scaled / _PRICE_SCALE == price:
                    self.values.append(scaled)
                    return
            self.values = array("d", [value / _PRICE_SCALE for value in self.values])
            self.scale = 1.0
        self.values.append(price)

    def at(self, index: int) -> float:
        """The price at `index`."""
        return self.values[index] / self.scale

    def delete_head(self, count: int) -> None:
        """Drop the oldest `count` prices."""
        del self.values[:count]

    def clear(self) -> None:
        """Drop every price and become narrow again."""
        self.values = _narrow_prices()
        self.scale = _PRICE_SCALE

    @property
    def itemsize(self) -> int:
        """Bytes a price takes now: 4, or 8 once widened."""
        return self.values.itemsize
