"""Packed detector state: points held in flat arrays, not one Python object each."""

import gc
import math
import random
from types import FunctionType, ModuleType

from factories import NS_PER_S, REGULAR_TS_NS, make_tick

from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.detection.high_low import HighLowDetector
from tickstock_server.detection.surge import SurgeDetector
from tickstock_server.detection.trend import TrendDetector
from tickstock_server.domain.market_session import MarketClock
from tickstock_server.domain.tick import Tick

_SHARED = (type, ModuleType, FunctionType)


def reachable_objects(root: object) -> int:
    """Objects reachable from `root` the way the garbage collector follows them (types and modules aside)."""
    seen = {id(root)}
    pending = [root]
    while pending:
        for referent in gc.get_referents(pending.pop()):
            if id(referent) not in seen and not isinstance(referent, _SHARED):
                seen.add(id(referent))
                pending.append(referent)
    return len(seen)


def one_tick_a_second(seconds: range, seed: int = 3) -> list[Tick]:
    rng = random.Random(seed)
    price = 100.0
    ticks = []
    for second in seconds:
        price = round(price * (1 + rng.gauss(0, 0.002)), 2)
        ticks.append(
            make_tick(
                price=price, volume=rng.randint(1, 5_000), vwap=100.0, ts_ns=REGULAR_TS_NS + second * NS_PER_S
            )
        )
    return ticks


def test_a_symbols_detectors_are_as_many_objects_with_600_points_as_with_100() -> None:
    clock = MarketClock()
    detectors = (HighLowDetector("AAPL"), TrendDetector("AAPL"), SurgeDetector("AAPL"))

    def feed(ticks: list[Tick]) -> None:
        for tick in ticks:
            session = clock.session_at(tick.ts_ns)
            for detector in detectors:
                detector.update(tick, session)

    feed(one_tick_a_second(range(100)))
    early = reachable_objects(detectors)
    feed(one_tick_a_second(range(100, 700)))
    full = reachable_objects(detectors)

    # The trend detector now holds a point for each of the last 600 s (not 100): 490 more at least. An
    # object per point would add as many objects; only attributes changing from None or small cached
    # ints to their own float and int objects (in the interpreted build) may add some.
    assert detectors[1].retained_items - 100 >= 490
    assert full - early < 100


def test_one_second_volumes_beyond_64_bits_are_stored_saturated_not_refused() -> None:
    engine = DetectionEngine()
    ticks = [
        make_tick(
            price=100.0 + second / 100, volume=2**63 - 1, ts_ns=REGULAR_TS_NS + second * NS_PER_S + part
        )
        for second in range(200)
        for part in (0, 1)  # two ticks of one second: their summed volume exceeds 2**63 - 1
    ]

    events = [event for tick in ticks for event in engine.process(tick)]

    assert engine.ticks_processed == 400
    assert engine.rejected_ticks == 0
    assert all(math.isfinite(event.relative_volume) for event in events)
