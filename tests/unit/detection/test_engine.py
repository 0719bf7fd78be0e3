import math
from typing import Any

import pytest
from factories import NS_PER_S, REGULAR_TS_NS, make_tick

from tickstock_server.detection.bars import BarAggregator
from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.detection.high_low import HighLowConfig
from tickstock_server.domain.events import Direction, EventType, HighLowDetails, MarketPeriod, MarketStatus


@pytest.mark.parametrize(
    "overrides",
    [
        {"symbol": ""},
        {"price": 0.0},
        {"price": -1.0},
        {"price": math.nan},
        {"price": math.inf},
        {"volume": -1},
        {"ts_ns": 0},
        {"ts_ns": 10**20},
    ],
)
def test_invalid_tick_is_counted_and_returns_no_events(overrides: dict[str, Any]) -> None:
    engine = DetectionEngine()

    events = engine.process(make_tick(**overrides))

    assert events == ()
    assert (engine.rejected_ticks, engine.ticks_processed, engine.symbol_count) == (1, 0, 0)


def test_symbols_keep_separate_state() -> None:
    engine = DetectionEngine()
    ticks = [
        make_tick(symbol="AAPL", price=100.00, ts_ns=REGULAR_TS_NS),
        make_tick(symbol="MSFT", price=50.00, ts_ns=REGULAR_TS_NS),
        make_tick(symbol="AAPL", price=100.10, ts_ns=REGULAR_TS_NS + NS_PER_S),
        make_tick(symbol="MSFT", price=50.05, ts_ns=REGULAR_TS_NS + NS_PER_S),
    ]

    events = [engine.process(tick) for tick in ticks]

    assert [[(e.symbol, e.type, e.count) for e in batch] for batch in events] == [
        [],
        [],  # MSFT's first tick: AAPL's state does not leak into it
        [("AAPL", EventType.HIGH, 1)],
        [("MSFT", EventType.HIGH, 1)],
    ]
    assert engine.symbol_count == 2


def test_counters_track_ticks_events_and_newest_event_time() -> None:
    engine = DetectionEngine()
    later_ns = REGULAR_TS_NS + 5 * NS_PER_S

    engine.process(make_tick(symbol="AAPL", price=100.00, ts_ns=REGULAR_TS_NS))
    engine.process(make_tick(symbol="AAPL", price=100.10, ts_ns=later_ns))
    engine.process(make_tick(symbol="MSFT", price=50.00, ts_ns=REGULAR_TS_NS + NS_PER_S))
    engine.process(make_tick(symbol="MSFT", price=-5.00))

    assert (engine.ticks_processed, engine.events_emitted, engine.rejected_ticks) == (3, 1, 1)
    assert engine.last_tick_ns == later_ns


def test_events_carry_market_session_of_the_tick() -> None:
    engine = DetectionEngine()

    engine.process(make_tick(price=100.00))
    (event,) = engine.process(make_tick(price=100.10, ts_ns=REGULAR_TS_NS + NS_PER_S))

    assert (event.market_status, event.market_period) == (MarketStatus.REGULAR, MarketPeriod.MIDDAY)


def test_process_batch_equals_processing_one_by_one() -> None:
    prices = [100.0, 100.1, 99.9, 100.3, 100.3, 99.5, 101.0]
    ticks = [make_tick(price=p, ts_ns=REGULAR_TS_NS + i * 2 * NS_PER_S) for i, p in enumerate(prices)]

    batched = DetectionEngine().process_batch(ticks)
    single = DetectionEngine()
    one_by_one = [event for tick in ticks for event in single.process(tick)]

    assert batched == one_by_one
    assert len(batched) == 5


def test_engine_config_reaches_every_detector() -> None:
    engine = DetectionEngine(high_low=HighLowConfig(cooldown_ns=10 * NS_PER_S))

    engine.process(make_tick(price=100.00))
    engine.process(make_tick(price=100.10, ts_ns=REGULAR_TS_NS + NS_PER_S))
    suppressed = engine.process(make_tick(price=100.20, ts_ns=REGULAR_TS_NS + 5 * NS_PER_S))

    assert suppressed == ()
    assert engine.events_emitted == 1


def test_reset_drops_symbol_state_and_keeps_counters() -> None:
    engine = DetectionEngine()
    engine.process(make_tick(price=100.00))

    engine.reset()

    assert (engine.symbol_count, engine.ticks_processed) == (0, 1)
    assert engine.process(make_tick(price=200.00, ts_ns=REGULAR_TS_NS + NS_PER_S)) == ()


def test_surge_tick_emits_high_then_surge_and_the_high_carries_the_surge_flag_of_the_same_tick() -> None:
    engine = DetectionEngine()
    # 40 s of quiet MIDDAY trading at $150: one tick per second, 1,000 shares, +/- 1 cent.
    for second in range(40):
        engine.process(
            make_tick(
                price=150.0 + 0.01 * (second % 2), volume=1_000, ts_ns=REGULAR_TS_NS + second * NS_PER_S
            )
        )

    # News: +3 % on 10x volume. MIDDAY thresholds for $150: 1.6 %, $0.60 and 3x volume (STRICT).
    events = engine.process(make_tick(price=154.5, volume=10_000, ts_ns=REGULAR_TS_NS + 40 * NS_PER_S))

    assert [event.type for event in events] == [EventType.HIGH, EventType.SURGE]
    high = events[0].details
    assert isinstance(high, HighLowDetails)
    # The original attached flags computed from the previous tick, so this high had no surge flag.
    assert high.surge_flag is Direction.UP


def test_engine_with_a_bar_aggregator_emits_one_minute_bars() -> None:
    engine = DetectionEngine(bars=BarAggregator())
    engine.process(make_tick(price=100.0, volume=10, ts_ns=REGULAR_TS_NS))
    engine.process(make_tick(price=101.0, volume=5, ts_ns=REGULAR_TS_NS + 30 * NS_PER_S))
    engine.process(make_tick(price=99.0, volume=1, ts_ns=REGULAR_TS_NS + 60 * NS_PER_S))
    engine.process(make_tick(price=-1.0, ts_ns=REGULAR_TS_NS + 61 * NS_PER_S))  # rejected: no bar

    completed = engine.take_bars()
    flushed = engine.flush_bars()

    assert [(bar.start_ns, bar.open, bar.close, bar.volume) for bar in completed] == [
        (REGULAR_TS_NS, 100.0, 101.0, 15)
    ]
    assert [(bar.start_ns, bar.close, bar.volume) for bar in flushed] == [
        (REGULAR_TS_NS + 60 * NS_PER_S, 99.0, 1)
    ]


def test_engine_without_a_bar_aggregator_returns_no_bars() -> None:
    engine = DetectionEngine()
    engine.process(make_tick(price=100.0, ts_ns=REGULAR_TS_NS))
    engine.process(make_tick(price=100.0, ts_ns=REGULAR_TS_NS + 60 * NS_PER_S))

    assert (engine.take_bars(), engine.flush_bars()) == ([], [])


def test_snapshot_reports_the_true_session_extremes_not_the_last_emitted_ones() -> None:
    # Golden: a ramp one tick every 0.25 s. The 1 s cooldown lets only every fourth new high through,
    # so the last HIGH event is below the session's true high; a dip then sets the low without an
    # event (within the cooldown).
    engine = DetectionEngine()
    prices = [71.00, 71.10, 71.20, 71.30, 71.40, 71.50, 71.60, 71.6496, 70.50]
    emitted = []
    for index, price in enumerate(prices):
        tick = make_tick(symbol="XYZ", price=price, ts_ns=REGULAR_TS_NS + index * NS_PER_S // 4)
        emitted += engine.process(tick)

    [snapshot] = engine.snapshot(["XYZ"])

    assert [(e.type, e.price) for e in emitted] == [(EventType.HIGH, 71.10), (EventType.HIGH, 71.50)]
    assert (snapshot.last_price, snapshot.session_high, snapshot.session_low) == (70.50, 71.6496, 70.50)
    assert snapshot.last_tick_ns == REGULAR_TS_NS + 8 * NS_PER_S // 4
