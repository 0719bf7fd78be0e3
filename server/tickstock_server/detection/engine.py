"""The detection engine: validates ticks and runs each symbol's detectors, in memory, without I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable

from tickstock_server.detection.high_low import HighLowConfig, HighLowDetector
from tickstock_server.domain.events import Event
from tickstock_server.domain.market_session import MarketClock
from tickstock_server.domain.tick import Tick

__all__ = ["DetectionEngine"]

# Event times beyond 2100-01-01 are feed garbage, and would overflow the session clock's datetime.
_MAX_TS_NS = 4_102_444_800 * 1_000_000_000


class _SymbolState:
    """One symbol's detectors. Trend and surge detectors join here, run after high/low (original 1.0)."""

    __slots__ = ("high_low",)

    def __init__(self, high_low: HighLowDetector) -> None:
        self.high_low = high_low


class DetectionEngine:
    """Per-symbol detector state for thousands of symbols; O(1) work per tick.

    Pure and synchronous: time comes only from `Tick.ts_ns`, so the same ticks always give the same
    events. Invalid ticks are counted and skipped, never raised.
    """

    __slots__ = (
        "_clock",
        "_events_emitted",
        "_high_low_config",
        "_last_tick_ns",
        "_rejected_ticks",
        "_states",
        "_ticks_processed",
    )

    def __init__(self, *, high_low: HighLowConfig | None = None) -> None:
        """Create an engine with no symbols yet; per-symbol state is created on first sight.

        Args:
            high_low: Configuration shared by every symbol's high/low detector.
        """
        self._high_low_config = high_low if high_low is not None else HighLowConfig()
        self._clock = MarketClock()
        self._states: dict[str, _SymbolState] = {}
        self._ticks_processed = 0
        self._events_emitted = 0
        self._rejected_ticks = 0
        self._last_tick_ns = 0

    @property
    def ticks_processed(self) -> int:
        """Valid ticks run through the detectors."""
        return self._ticks_processed

    @property
    def events_emitted(self) -> int:
        """Events returned by `process`."""
        return self._events_emitted

    @property
    def rejected_ticks(self) -> int:
        """Ticks skipped as invalid (not counted in `ticks_processed`)."""
        return self._rejected_ticks

    @property
    def last_tick_ns(self) -> int:
        """Newest event time of a valid tick, UTC epoch nanoseconds; 0 before the first."""
        return self._last_tick_ns

    @property
    def symbol_count(self) -> int:
        """Symbols with detector state."""
        return len(self._states)

    def process(self, tick: Tick) -> list[Event]:
        """Run one tick through its symbol's detectors.

        A tick is valid when its symbol is non-empty, its price is positive and finite, its volume is
        not negative and its event time is positive (and before 2100).

        Args:
            tick: The tick; ticks of one symbol must come in event-time order.

        Returns:
            The events the tick produced (empty for an invalid tick).
        """
        price = tick.price
        ts_ns = tick.ts_ns
        if (
            not tick.symbol
            or not 0.0 < price < math.inf  # also false for NaN
            or tick.volume < 0
            or not 0 < ts_ns < _MAX_TS_NS
        ):
            self._rejected_ticks += 1
            return []
        self._ticks_processed += 1
        if ts_ns > self._last_tick_ns:
            self._last_tick_ns = ts_ns

        state = self._states.get(tick.symbol)
        if state is None:
            state = self._states[tick.symbol] = _SymbolState(
                HighLowDetector(tick.symbol, self._high_low_config)
            )
        session = self._clock.session_at(ts_ns)
        event = state.high_low.update(tick, session)
        if event is None:
            return []
        self._events_emitted += 1
        return [event]

    def process_batch(self, ticks: Iterable[Tick]) -> list[Event]:
        """Run ticks through `process` in order and return all their events."""
        events: list[Event] = []
        for tick in ticks:
            events += self.process(tick)
        return events

    def reset(self) -> None:
        """Drop every symbol's state; counters are kept (they are lifetime totals)."""
        self._states.clear()
