"""A candlestick chart of bars in Unicode block characters: the scaling (pure) and its rich renderable.

Each column is one candle, and each character cell is two price levels (upper and lower half), so bodies
and wicks end on half cells: `█ ▀ ▄` draw bodies, `│ ╵ ╷` wicks. With more bars than columns,
neighbouring bars merge into one candle (first open, highest high, lowest low, last close).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions
from rich.text import Text

from tickstock_client._models import Bar

__all__ = ["BarChart", "Candle", "bars_per_candle", "chart_cells", "merge_bars", "scale_candles"]

_RISING = "green"
_FALLING = "red"
# Characters by (upper half covered, lower half covered), for bodies and for wicks.
_BODY = {(True, True): "█", (True, False): "▀", (False, True): "▄"}
_WICK = {(True, True): "│", (True, False): "╵", (False, True): "╷"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Candle:
    """One candle in price levels: 0 is the lowest low, 2 * rows - 1 the highest high of the chart."""

    high: int
    low: int
    body_top: int
    body_bottom: int
    rising: bool
    """Closed at or above its open."""


def bars_per_candle(count: int, columns: int) -> int:
    """How many neighbouring bars of `count` share a candle so that they fit into `columns`."""
    if columns < 1:
        raise ValueError(f"columns must be at least 1, not {columns}")
    return max(1, math.ceil(count / columns))


def merge_bars(bars: Sequence[Bar], columns: int) -> list[Bar]:
    """At most `columns` bars: runs of neighbouring bars of equal length (the last may be shorter) merged."""
    size = bars_per_candle(len(bars), columns)
    merged = []
    for start in range(0, len(bars), size):
        run = bars[start : start + size]
        merged.append(
            Bar(
                symbol=run[0].symbol,
                start_time=run[0].start_time,
                open=run[0].open,
                high=max(bar.high for bar in run),
                low=min(bar.low for bar in run),
                close=run[-1].close,
                volume=sum(bar.volume for bar in run),
            )
        )
    return merged


def scale_candles(bars: Sequence[Bar], rows: int) -> list[Candle]:
    """The candles of `bars` on a chart `rows` characters high (2 * rows price levels).

    The lowest low sits on level 0 and the highest high on the top level; when every price is the same,
    everything sits on the middle level.
    """
    if rows < 1:
        raise ValueError(f"rows must be at least 1, not {rows}")
    if not bars:
        return []
    bottom = min(bar.low for bar in bars)
    top = max(bar.high for bar in bars)
    levels = 2 * rows - 1

    def level(price: float) -> int:
        if top == bottom:
            return levels // 2
        return min(levels, max(0, round((price - bottom) / (top - bottom) * levels)))

    return [
        Candle(
            high=level(bar.high),
            low=level(bar.low),
            body_top=level(max(bar.open, bar.close)),
            body_bottom=level(min(bar.open, bar.close)),
            rising=bar.close >= bar.open,
        )
        for bar in bars
    ]


def chart_cells(candles: Sequence[Candle], rows: int) -> list[list[tuple[str, bool | None]]]:
    """The chart as rows of (character, rising) cells, top row first; rising is None for blank cells."""
    grid: list[list[tuple[str, bool | None]]] = []
    for row in reversed(range(rows)):
        upper, lower = 2 * row + 1, 2 * row
        cells: list[tuple[str, bool | None]] = []
        for candle in candles:
            body = candle.body_bottom <= upper and lower <= candle.body_top
            covered = (
                (
                    candle.body_bottom <= upper <= candle.body_top,
                    candle.body_bottom <= lower <= candle.body_top,
                )
                if body
                else (candle.low <= upper <= candle.high, candle.low <= lower <= candle.high)
            )
            character = (_BODY if body else _WICK).get(covered, " ")
            cells.append((character, candle.rising if character != " " else None))
        grid.append(cells)
    return grid


def _price(value: float) -> str:
    return f"{value:,.2f}"


class BarChart:
    """A rich renderable: the candles of `bars` with a price axis, as wide as the console allows."""

    def __init__(self, bars: Sequence[Bar], *, rows: int = 12) -> None:
        self._bars = list(bars)
        self._rows = rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        if not self._bars:
            yield Text("no bars to chart")
            return
        bottom = min(bar.low for bar in self._bars)
        top = max(bar.high for bar in self._bars)
        labels = {0: _price(top), self._rows - 1: _price(bottom)}
        axis = max(len(label) for label in labels.values()) + 1
        columns = options.max_width - axis - 1
        if columns < 1:
            yield Text("too narrow for a chart")
            return
        # Few bars get a blank column between candles; many share columns by merging.
        spacing = 1 if 2 * len(self._bars) <= columns else 0
        size = bars_per_candle(len(self._bars), columns)
        bars = merge_bars(self._bars, columns)
        grid = chart_cells(scale_candles(bars, self._rows), self._rows)
        for index, cells in enumerate(grid):
            label = labels.get(index)
            line = Text(f"{label.rjust(axis - 1)} ┤" if label is not None else f"{' ' * axis}│")
            for character, rising in cells:
                line.append(character, style=None if rising is None else _RISING if rising else _FALLING)
                line.append(" " * spacing)
            yield line
        first, last = bars[0].start_time, bars[-1].start_time
        until = f"{last:%H:%M}" if last.date() == first.date() else f"{last:%Y-%m-%d %H:%M}"
        yield Text(
            f"{' ' * axis} {len(self._bars)} bars, {size} per candle, {first:%Y-%m-%d %H:%M} to {until} UTC",
            style="dim",
        )
