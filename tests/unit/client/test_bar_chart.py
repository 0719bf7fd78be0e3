"""The bar chart: bars scaled to price levels, merged to fit the columns, drawn in block characters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from tickstock_client import Bar
from tickstock_client._bar_chart import (
    BarChart,
    Candle,
    bars_per_candle,
    chart_cells,
    merge_bars,
    scale_candles,
)

T0 = datetime(2026, 1, 6, 15, 0, tzinfo=UTC)


def bar(minute: int, open: float, high: float, low: float, close: float, volume: int = 10) -> Bar:
    return Bar(
        symbol="AAPL", start_time=T0 + timedelta(minutes=minute), open=open, high=high, low=low, close=close,
        volume=volume,
    )  # fmt: skip


def test_the_lowest_low_is_level_0_and_the_highest_high_the_top_level() -> None:
    bars = [bar(0, 102, 104, 100, 103), bar(1, 103, 108, 102, 104), bar(2, 104, 105, 101, 102)]

    candles = scale_candles(bars, rows=5)  # 10 levels, 0 to 9, 8/9 of a price unit each

    assert candles == [
        Candle(high=4, low=0, body_top=3, body_bottom=2, rising=True),
        Candle(high=9, low=2, body_top=4, body_bottom=3, rising=True),
        Candle(high=6, low=1, body_top=4, body_bottom=2, rising=False),
    ]


def test_one_price_throughout_sits_on_the_middle_level() -> None:
    candles = scale_candles([bar(0, 50, 50, 50, 50)], rows=4)

    assert candles == [Candle(high=3, low=3, body_top=3, body_bottom=3, rising=True)]


def test_no_bars_scale_to_no_candles_and_zero_rows_are_refused() -> None:
    assert scale_candles([], rows=3) == []
    with pytest.raises(ValueError, match="rows"):
        scale_candles([bar(0, 1, 1, 1, 1)], rows=0)


def test_more_bars_than_columns_merge_into_runs_of_equal_length() -> None:
    bars = [bar(m, 100 + m, 101 + m, 99 + m, 100.5 + m, volume=m) for m in range(10)]

    merged = merge_bars(bars, columns=4)

    assert bars_per_candle(10, 4) == 3
    assert [(b.start_time, b.open, b.high, b.low, b.close, b.volume) for b in merged] == [
        (T0, 100, 103, 99, 102.5, 3),
        (T0 + timedelta(minutes=3), 103, 106, 102, 105.5, 12),
        (T0 + timedelta(minutes=6), 106, 109, 105, 108.5, 21),
        (T0 + timedelta(minutes=9), 109, 110, 108, 109.5, 9),
    ]


def test_bars_that_fit_are_not_merged() -> None:
    bars = [bar(m, 1, 2, 0, 1) for m in range(3)]

    assert merge_bars(bars, columns=80) == bars
    with pytest.raises(ValueError, match="columns"):
        bars_per_candle(3, 0)


def test_cells_draw_bodies_as_blocks_and_wicks_as_lines_to_the_half_cell() -> None:
    candles = [
        Candle(high=5, low=0, body_top=4, body_bottom=2, rising=True),
        Candle(high=4, low=1, body_top=3, body_bottom=3, rising=False),
    ]

    grid = chart_cells(candles, rows=3)

    # A body's half cell wins over its wick's other half: the top row shows the body's upper end.
    assert ["".join(character for character, _ in row) for row in grid] == ["▄╷", "█▀", "│╵"]
    assert [[rising for _, rising in row] for row in grid] == [[True, False], [True, False], [True, False]]


def test_blank_cells_have_no_direction() -> None:
    grid = chart_cells([Candle(high=1, low=0, body_top=1, body_bottom=0, rising=True)], rows=2)

    assert grid == [[(" ", None)], [("█", True)]]


def test_the_chart_fits_the_console_width_with_a_price_axis_and_a_caption() -> None:
    bars = [bar(m, 100 + m % 7, 102 + m % 7, 99 + m % 7, 101 + m % 5) for m in range(200)]
    console = Console(record=True, width=50)

    console.print(BarChart(bars, rows=6))

    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 50
    assert lines[0].startswith("108.00 ┤") and lines[5].startswith(" 99.00 ┤")
    assert all(line.startswith("       │") for line in lines[1:5])
    assert "200 bars, 5 per candle" in " ".join(lines[6:])


def test_a_few_bars_are_drawn_exactly_with_a_blank_column_between_candles() -> None:
    bars = [bar(0, 100, 104, 100, 104), bar(1, 104, 104, 100, 100)]
    console = Console(record=True, width=60)

    console.print(BarChart(bars, rows=2))

    assert console.export_text().splitlines() == [
        "104.00 ┤█ █ ",
        "100.00 ┤█ █ ",
        "        2 bars, 1 per candle, 2026-01-06 15:00 to 15:01 UTC",
    ]


@pytest.mark.parametrize(
    ("bars", "width", "text"), [([], 40, "no bars to chart"), (None, 8, "too narrow for a chart")]
)
def test_nothing_to_draw_is_said_in_words(bars: list[Bar] | None, width: int, text: str) -> None:
    console = Console(record=True, width=width)

    console.print(BarChart(bars if bars is not None else [bar(0, 100, 104, 100, 104)], rows=3))

    assert " ".join(console.export_text().split()) == text
