"""A stored bar becomes its documented ticks: open, the likely extreme first, the other, then close."""

from __future__ import annotations

from factories import NS_PER_S, ns_at

from tickstock_server.domain.bar import Bar
from tickstock_server.feeds.bar_path import ticks_from_bar

T0 = ns_at("2025-01-06T15:00:00")  # 10:00 ET


def _bar(o: float, h: float, low: float, c: float, volume: int) -> Bar:
    return Bar(symbol="AAPL", start_ns=T0, open=o, high=h, low=low, close=c, volume=volume, ticks=0)


def _path(bar: Bar) -> list[tuple[int, float, int]]:
    return [((tick.ts_ns - T0) // NS_PER_S, tick.price, tick.volume) for tick in ticks_from_bar(bar)]


def test_bar_closing_up_goes_low_before_high_and_close_takes_the_volume_remainder() -> None:
    assert _path(_bar(10.0, 12.0, 9.0, 11.0, 1003)) == [
        (0, 10.0, 250), (15, 9.0, 250), (30, 12.0, 250), (45, 11.0, 253),
    ]  # fmt: skip


def test_bar_closing_down_goes_high_before_low() -> None:
    assert _path(_bar(10.0, 12.0, 9.0, 9.5, 8)) == [(0, 10.0, 2), (15, 12.0, 2), (30, 9.0, 2), (45, 9.5, 2)]


def test_flat_bar_counts_as_up_and_keeps_four_ticks() -> None:
    assert _path(_bar(10.0, 10.0, 10.0, 10.0, 3)) == [
        (0, 10.0, 0),
        (15, 10.0, 0),
        (30, 10.0, 0),
        (45, 10.0, 3),
    ]


def test_ticks_carry_the_symbol_and_their_event_time_as_arrival() -> None:
    ticks = ticks_from_bar(_bar(10.0, 12.0, 9.0, 11.0, 4))

    assert {tick.symbol for tick in ticks} == {"AAPL"}
    assert [tick.received_ns for tick in ticks] == [tick.ts_ns for tick in ticks]
    assert ticks_from_bar(_bar(10.0, 12.0, 9.0, 11.0, 4)) == ticks
