"""One-minute bar aggregation: merge semantics, completion on event time, revisions and flush."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import NS_PER_S, make_tick, ns_at
from tickstock_server.detection.bars import BarAggregator
from tickstock_server.domain.bar import Bar

MINUTE_NS = 60 * NS_PER_S
T0 = ns_at("2026-01-06T15:00:00")  # a minute boundary


def test_ticks_of_one_minute_merge_first_open_max_high_min_low_last_close_summed_volume() -> None:
    bars = BarAggregator()
    for offset_s, price, volume in [(0, 100.0, 10), (10, 101.5, 20), (20, 99.25, 5), (59, 100.5, 7)]:
        bars.update(make_tick(price=price, volume=volume, ts_ns=T0 + offset_s * NS_PER_S))

    bars.update(make_tick(price=100.0, volume=1, ts_ns=T0 + MINUTE_NS))

    assert bars.take() == [
        Bar(symbol="AAPL", start_ns=T0, open=100.0, high=101.5, low=99.25, close=100.5, volume=42, ticks=4)
    ]


def test_minute_boundary_is_inclusive_of_start_and_exclusive_of_end() -> None:
    bars = BarAggregator()
    bars.update(make_tick(price=100.0, ts_ns=T0 + MINUTE_NS - 1))
    bars.update(make_tick(price=101.0, ts_ns=T0 + MINUTE_NS))

    [bar] = bars.take()

    assert (bar.start_ns, bar.close, bar.ticks) == (T0, 100.0, 1)


def test_silent_symbol_bar_is_emitted_once_the_watermark_passes_minute_end_plus_grace() -> None:
    bars = BarAggregator(grace_ns=2 * NS_PER_S)
    bars.update(make_tick(symbol="QUIET", price=10.0, ts_ns=T0 + 30 * NS_PER_S))

    bars.update(make_tick(symbol="BUSY", price=50.0, ts_ns=T0 + MINUTE_NS + NS_PER_S))
    before_grace = bars.take()
    bars.update(make_tick(symbol="BUSY", price=50.0, ts_ns=T0 + MINUTE_NS + 2 * NS_PER_S))
    after_grace = bars.take()

    assert before_grace == []
    assert [(bar.symbol, bar.start_ns) for bar in after_grace] == [("QUIET", T0)]


def test_late_tick_for_an_emitted_bar_emits_a_cumulative_revision() -> None:
    bars = BarAggregator(grace_ns=0)
    bars.update(make_tick(symbol="LATE", price=10.0, volume=100, ts_ns=T0 + 50 * NS_PER_S))
    bars.update(make_tick(symbol="BUSY", price=50.0, ts_ns=T0 + MINUTE_NS))
    [first] = bars.take()

    # LATE's next tick still belongs to minute T0 (feeds interleave symbols slightly out of order).
    bars.update(make_tick(symbol="LATE", price=10.5, volume=50, ts_ns=T0 + 59 * NS_PER_S))
    bars.update(make_tick(symbol="BUSY", price=50.0, ts_ns=T0 + 2 * MINUTE_NS))
    [revision] = [bar for bar in bars.take() if bar.symbol == "LATE"]

    assert (first.volume, first.close) == (100, 10.0)
    assert (
        revision.start_ns,
        revision.open,
        revision.high,
        revision.close,
        revision.volume,
        revision.ticks,
    ) == (
        T0,
        10.0,
        10.5,
        10.5,
        150,
        2,
    )


def test_tick_older_than_the_symbols_newest_minute_is_ignored() -> None:
    bars = BarAggregator()
    bars.update(make_tick(price=10.0, ts_ns=T0 + MINUTE_NS))
    bars.update(make_tick(price=99.0, volume=1_000, ts_ns=T0 + 5 * NS_PER_S))

    [bar] = bars.flush()

    assert (bar.start_ns, bar.high, bar.volume) == (T0 + MINUTE_NS, 10.0, 100)


def test_flush_emits_every_unemitted_bar_and_take_then_returns_nothing() -> None:
    bars = BarAggregator()
    bars.update(make_tick(symbol="A", price=1.0, ts_ns=T0))
    bars.update(make_tick(symbol="B", price=2.0, ts_ns=T0 + NS_PER_S))

    flushed = bars.flush()

    assert sorted(bar.symbol for bar in flushed) == ["A", "B"]
    assert bars.take() == []
    assert bars.flush() == []


def test_open_bars_snapshot_includes_unemitted_bars_without_marking_them() -> None:
    bars = BarAggregator()
    bars.update(make_tick(price=10.0, volume=3, ts_ns=T0))

    snapshot = bars.open_bars()

    assert [(bar.symbol, bar.volume) for bar in snapshot] == [("AAPL", 3)]
    assert bars.open_bar("AAPL") == snapshot[0]
    assert bars.open_bar("MSFT") is None
    assert [bar.volume for bar in bars.flush()] == [3]


_ticks = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C"]),
        st.integers(min_value=0, max_value=5 * 60 * 1000),  # ms after T0, sorted below
        st.floats(min_value=0.01, max_value=1_000.0, allow_nan=False),
        st.integers(min_value=0, max_value=10_000),
    ),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(_ticks)
def test_latest_revisions_equal_a_naive_grouping_of_the_ticks(raw: list[tuple[str, int, float, int]]) -> None:
    ticks = [
        make_tick(symbol=symbol, price=price, volume=volume, ts_ns=T0 + ms * 1_000_000)
        for symbol, ms, price, volume in sorted(raw, key=lambda item: item[1])
    ]
    bars = BarAggregator()
    emitted: list[Bar] = []
    for tick in ticks:
        bars.update(tick)
        emitted += bars.take()
    emitted += bars.flush()

    latest = {(bar.symbol, bar.start_ns): bar for bar in emitted}
    expected: dict[tuple[str, int], list[tuple[float, int]]] = {}
    for tick in ticks:
        expected.setdefault((tick.symbol, tick.ts_ns - tick.ts_ns % MINUTE_NS), []).append(
            (tick.price, tick.volume)
        )
    assert latest.keys() == expected.keys()
    for key, items in expected.items():
        bar = latest[key]
        prices = [price for price, _ in items]
        assert (bar.open, bar.high, bar.low, bar.close) == (prices[0], max(prices), min(prices), prices[-1])
        assert (bar.volume, bar.ticks) == (sum(volume for _, volume in items), len(items))
