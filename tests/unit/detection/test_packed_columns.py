"""Narrow point columns: 4 bytes a value while exact, and every value read back bit for bit."""

import struct

from hypothesis import given
from hypothesis import strategies as st

from tickstock_server.detection.packed_columns import IntColumn, PriceColumn, SecondColumn

_cents = st.integers(min_value=1, max_value=2_000_000).map(lambda cents: cents / 100)
_four_places = st.integers(min_value=1, max_value=2**31 - 1).map(lambda units: units / 10_000)


def bits(value: float) -> bytes:
    return struct.pack("<d", value)


def read_back(column: PriceColumn) -> list[bytes]:
    return [bits(column.at(index)) for index in range(len(column.values))]


@given(prices=st.lists(st.one_of(_cents, _four_places, st.floats()), max_size=60))
def test_every_price_reads_back_as_the_identical_double(prices: list[float]) -> None:
    column = PriceColumn()

    for price in prices:
        column.append(price)

    assert read_back(column) == [bits(price) for price in prices]
    assert [bits(value / column.scale) for value in column.values] == [bits(price) for price in prices]


@given(prices=st.lists(st.one_of(_cents, _four_places), min_size=1, max_size=60))
def test_prices_of_at_most_four_places_below_214748_dollars_stay_4_bytes(prices: list[float]) -> None:
    column = PriceColumn()

    for price in prices:
        column.append(price)

    assert column.itemsize == 4


def test_a_price_that_4_bytes_cannot_hold_widens_the_column_keeping_the_held_prices() -> None:
    for odd in (100.00001, 214_748.37, 1 / 3, 0.00001, -1.0, 0.0, float("nan"), float("inf")):
        column = PriceColumn()
        column.append(189.98)
        column.append(0.0001)

        column.append(odd)
        column.append(190.01)

        assert column.itemsize == 8
        assert read_back(column) == [bits(189.98), bits(0.0001), bits(odd), bits(190.01)]


def test_clear_and_delete_head_of_prices() -> None:
    column = PriceColumn()
    for price in (10.5, 1 / 3, 11.25, 12.0):
        column.append(price)

    column.delete_head(2)
    assert read_back(column) == [bits(11.25), bits(12.0)]

    column.clear()
    column.append(13.75)
    assert (column.itemsize, read_back(column)) == (4, [bits(13.75)])


@given(values=st.lists(st.integers(min_value=0, max_value=2**63 - 1), max_size=60))
def test_every_integer_reads_back_unchanged_in_the_narrowest_width_that_holds_them(values: list[int]) -> None:
    column = IntColumn()

    for value in values:
        column.append(value)

    assert list(column.values) == values
    largest = max(values, default=0)
    assert column.itemsize == (2 if largest < 2**16 else 4 if largest < 2**32 else 8)


def test_an_integer_beyond_16_or_32_bits_widens_the_column_until_cleared() -> None:
    column = IntColumn()
    column.append(900)
    column.append(70_000)
    assert (column.itemsize, list(column.values)) == (4, [900, 70_000])

    column.append(2**40)
    column.append(7)
    column.delete_head(1)
    assert (column.itemsize, list(column.values)) == (8, [70_000, 2**40, 7])

    column.clear()
    column.append(7)
    assert (column.itemsize, list(column.values)) == (2, [7])


def held_seconds(column: SecondColumn) -> list[int]:
    return [offset + column.base for offset in column.values]


@given(
    start=st.integers(min_value=0, max_value=2**40),
    steps=st.lists(st.integers(min_value=0, max_value=40_000), max_size=60),
    drops=st.lists(st.integers(min_value=0, max_value=3), max_size=60),
)
def test_seconds_read_back_unchanged_and_stay_2_bytes_while_the_held_ones_span_under_18_hours(
    start: int, steps: list[int], drops: list[int]
) -> None:
    column = SecondColumn()
    expected: list[int] = []
    second = start

    for step, drop in zip(steps, drops + [0] * len(steps), strict=False):
        second += step
        column.append(second)
        expected.append(second)
        dropped = min(drop, len(expected) - 1)
        column.delete_head(dropped)
        del expected[:dropped]

        assert held_seconds(column) == expected
        assert column.itemsize == 2 or expected[-1] - expected[0] >= 2**16


def test_a_second_the_offsets_cannot_hold_widens_the_column_until_cleared() -> None:
    column = SecondColumn()
    column.append(1_764_950_400)
    column.append(1_764_950_400 + 70_000)  # the held seconds would span more than 65,535 s
    column.append(1_764_950_399)  # before the base: accepted as well, and kept
    assert (column.itemsize, held_seconds(column)) == (
        8,
        [1_764_950_400, 1_764_950_400 + 70_000, 1_764_950_399],
    )

    column.clear()
    column.append(5)
    assert (column.itemsize, held_seconds(column)) == (2, [5])
