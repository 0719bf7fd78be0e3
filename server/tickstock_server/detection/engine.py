"""The detection engine: validates ticks and runs each symbol's detectors, in memory, without I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from tickstock_server.detection.bars import BarAggregator
from tickstock_server.detection.high_low import HighLowConfig, HighLowDetector
from tickstock_server.detection.surge import SurgeConfig, SurgeDetector
from tickstock_server.detection.trend import TrendConfig, TrendDetector
from tickstock_server.domain.bar import Bar
from tickstock_server.domain.events import Event, MarketStatus
from tickstock_server.domain.market_calendar import MarketCalendar
from tickstock_server.domain.market_session import MarketClock
from tickstock_server.domain.snapshot import SymbolSnapshot
from tickstock_server.domain.tick import Tick
from tickstock_server.support.metric_samples import MetricSample, counter, gauge
from tickstock_server.support.time_units import NS_PER_S

__all__ = ["FEED_REJECTED", "FEED_REJECTED_HELP", "INVALID_TICK", "DetectionEngine"]

FEED_REJECTED = "tickstock_feed_rejected"
"""The metric of what ingest skipped as malformed: the feed's own reasons, and `INVALID_TICK`."""
FEED_REJECTED_HELP = (
    "Feed frames, events and ticks skipped as malformed, by reason (counted and logged, never "
    "raised); invalid_tick is a parsed tick the detectors refused (bad price, volume or time)."
)
INVALID_TICK = "invalid_tick"
"""The `reason` of ticks the detection engine refused, next to the feed parser's reasons."""

# Event times beyond 2100-01-01 are feed garbage, and would overflow the session clock's datetime.
_MAX_TS_NS = 4_102_444_800 * NS_PER_S

_NO_EVENTS: tuple[Event, ...] = ()


class _SymbolState:
    """One symbol's detectors."""

    __slots__ = ("high_low", "last_tick", "status", "surge", "trend")

    def __init__(
        self, high_low: HighLowDetector, trend: TrendDetector, surge: SurgeDetector, tick: Tick
    ) -> None:
        self.high_low = high_low
        self.trend = trend
        self.surge = surge
        self.last_tick = tick
        self.status = MarketStatus.CLOSED


class DetectionEngine:
    """Per-symbol detector state for thousands of symbols, and the one-minute bars; O(1) work per tick.

    Pure and synchronous: time comes only from `Tick.ts_ns`, so the same ticks always give the same
    events. Invalid ticks are counted and skipped, never raised.

    Each tick runs the trend and surge detectors first and then high/low, so the trend and surge flags
    on a high/low event include the tick itself (the original computed them from the previous tick's
    state). Events of one tick are returned in the original's order: high/low, trend, surge.
    """

    __slots__ = (
        "_bars",
        "_clock",
        "_events_emitted",
        "_high_low_config",
        "_last_tick_ns",
        "_rejected_ticks",
        "_states",
        "_surge_config",
        "_ticks_processed",
        "_trend_config",
    )

    def __init__(
        self,
        *,
        high_low: HighLowConfig | None = None,
        trend: TrendConfig | None = None,
        surge: SurgeConfig | None = None,
        bars: BarAggregator | None = None,
        calendar: MarketCalendar | None = None,
    ) -> None:
        """Create an engine with no symbols yet; per-symbol state is created on first sight.

        Args:
            high_low: Configuration shared by every symbol's high/low detector.
            trend: Configuration shared by every symbol's trend detector.
            surge: Configuration shared by every symbol's surge detector.
            bars: Aggregator fed with every valid tick; None aggregates no bars. Whoever passes one must
                drain it (`take`) regularly.
            calendar: Trading days and hours the sessions follow (the service passes XNYS); None
                treats every weekday as a full trading day.
        """
        self._high_low_config = high_low if high_low is not None else HighLowConfig()
        self._trend_config = trend if trend is not None else TrendConfig()
        self._surge_config = surge if surge is not None else SurgeConfig()
        self._bars = bars
        self._clock = MarketClock() if calendar is None else MarketClock(calendar)
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

    def metric_samples(self) -> list[MetricSample]:
        """Ticks processed and refused, events emitted, symbols with state."""
        return [
            counter(
                "tickstock_ticks_processed", "Valid ticks run through the detectors.", self._ticks_processed
            ),
            counter(FEED_REJECTED, FEED_REJECTED_HELP, self._rejected_ticks, reason=INVALID_TICK),
            counter("tickstock_events_detected", "Events the detectors emitted.", self._events_emitted),
            gauge("tickstock_symbols", "Symbols with detector state.", len(self._states)),
        ]

    def process(self, tick: Tick) -> Sequence[Event]:
        """Run one tick through its symbol's detectors.

        A tick is valid when its symbol is non-empty, its price is positive and finite, its volume is
        not negative and its event time is positive (and before 2100).

        Args:
            tick: The tick; ticks of one symbol must come in event-time order.

        Returns:
            The events the tick produced (none for an invalid tick).
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
            return _NO_EVENTS
        self._ticks_processed += 1
        if ts_ns > self._last_tick_ns:
            self._last_tick_ns = ts_ns

        symbol = tick.symbol
        state = self._states.get(symbol)
        if state is None:
            state = self._states[symbol] = _SymbolState(
                HighLowDetector(symbol, self._high_low_config),
                TrendDetector(symbol, self._trend_config),
                SurgeDetector(symbol, self._surge_config),
                tick,
            )
        if self._bars is not None:
            self._bars.update(tick)
        session = self._clock.session_at(ts_ns)
        state.last_tick = tick
        state.status = session.status
        trend_event = state.trend.update(tick, session)
        surge_event = state.surge.update(tick, session)
        high_low_event = state.high_low.update(
            tick, session, state.trend.direction, state.surge.active_direction(ts_ns)
        )
        if high_low_event is None and trend_event is None and surge_event is None:
            return _NO_EVENTS
        events = tuple(event for event in (high_low_event, trend_event, surge_event) if event is not None)
        self._events_emitted += len(events)
        return events

    def process_batch(self, ticks: Iterable[Tick]) -> list[Event]:
        """Run ticks through `process` in order and return all their events."""
        events: list[Event] = []
        for tick in ticks:
            events += self.process(tick)
        return events

    def take_bars(self) -> list[Bar]:
        """Bars completed since the last call (none when the engine aggregates no bars)."""
        return self._bars.take() if self._bars is not None else []

    def flush_bars(self) -> list[Bar]:
        """Complete and return every pending bar (at shutdown)."""
        return self._bars.flush() if self._bars is not None else []

    def snapshot(self, symbols: Iterable[str] | None = None) -> list[SymbolSnapshot]:
        """The current state of `symbols` (every symbol when None) that have seen a tick, sorted by symbol."""
        states = self._states
        names = sorted(states) if symbols is None else sorted(s for s in symbols if s in states)
        snapshots = []
        for symbol in names:
            state = states[symbol]
            tick = state.last_tick
            snapshots.append(
                SymbolSnapshot(
                    symbol=symbol,
                    last_price=tick.price,
                    last_tick_ns=tick.ts_ns,
                    session_high=state.high_low.session_high,
                    session_low=state.high_low.session_low,
                    trend_direction=state.trend.direction,
                    trend_score=state.trend.score,
                    surge_direction=state.surge.active_direction(tick.ts_ns),
                    market_status=state.status,
                )
            )
        return snapshots

    def reset(self) -> None:
        """Drop every symbol's state; counters are kept (they are lifetime totals)."""
        self._states.clear()
