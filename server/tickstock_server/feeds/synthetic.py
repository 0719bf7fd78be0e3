"""The synthetic tick feed: a `SyntheticMarket` paced in real time for demos, or simulated for tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from types import MappingProxyType

from tickstock_server.domain.market_calendar import MarketCalendar
from tickstock_server.domain.tick import Tick
from tickstock_server.simulation.market import DEFAULT_START_NS, SyntheticMarket, SyntheticMarketConfig
from tickstock_server.support.time_units import NS_PER_S

__all__ = ["SyntheticTickSource"]

_NOTHING_REJECTED: Mapping[str, int] = MappingProxyType({})


class SyntheticTickSource:
    """`TickSource` over a `SyntheticMarket`: paced in real time, or as fast as possible.

    Real time (`realtime=True`, the live demo): every `interval_s` it emits the ticks due at `rate`
    since the previous batch, received at the wall clock. Their event time is the wall clock too, or,
    with `session_start_ns`, a simulated trading day starting there and advancing with the wall clock
    (so a demo at night still shows a regular session). Simulated (`realtime=False`, tests and
    benchmarks): batches of `rate * interval_s` ticks on a clock starting at `start_ns` and advancing
    `interval_s` per batch without sleeping, so the same seed gives the same ticks.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        symbols: int = 4000,
        rate: float = 2000.0,
        realtime: bool = True,
        interval_s: float = 0.02,
        start_ns: int = DEFAULT_START_NS,
        max_ticks: int | None = None,
        market_config: SyntheticMarketConfig | None = None,
        session_start_ns: int | None = None,
        wall_clock_ns: Callable[[], int] = time.time_ns,
        calendar: MarketCalendar | None = None,
    ) -> None:
        """Create the source.

        Args:
            seed: Seed of the market's random generator.
            symbols: Universe size; ignored when `market_config` is given.
            rate: Ticks per second in total (event time), > 0.
            realtime: Pace by the wall clock (True) or run a simulated clock flat out (False).
            interval_s: Time between batches, seconds (real or simulated).
            start_ns: First event time of the simulated clock, UTC epoch nanoseconds.
            max_ticks: Stop after this many ticks; None runs until cancelled.
            market_config: Full market shape, overriding `symbols`.
            session_start_ns: In real time, the event time of the first batch (then advancing with the
                wall clock); None stamps event time with the wall clock.
            wall_clock_ns: Wall clock, UTC epoch nanoseconds (injectable for tests).
            calendar: Trading days that shape volume; None trades every weekday.
        """
        if rate <= 0 or interval_s <= 0:
            raise ValueError("rate and interval_s must be positive")
        config = market_config if market_config is not None else SyntheticMarketConfig(symbols=symbols)
        self.market = SyntheticMarket(seed, config, calendar=calendar)
        self._rate = rate
        self._realtime = realtime
        self._interval_s = interval_s
        self._start_ns = start_ns
        self._max_ticks = max_ticks
        self._session_start_ns = session_start_ns
        self._wall_clock_ns = wall_clock_ns

    @property
    def rejected(self) -> Mapping[str, int]:
        """Always empty: the synthetic market only makes valid ticks."""
        return _NOTHING_REJECTED

    async def ticks(self) -> AsyncIterator[list[Tick]]:
        """Yield batches of ticks until `max_ticks` is reached or the consumer stops."""
        interval_ns = round(self._interval_s * NS_PER_S)
        simulated_ns = self._start_ns
        due = 0.0
        emitted = 0
        first_mono_ns = last_mono_ns = time.monotonic_ns()
        while self._max_ticks is None or emitted < self._max_ticks:
            if self._realtime:
                await asyncio.sleep(self._interval_s)
                mono_ns = time.monotonic_ns()
                # After a stall (busy loop, debugger) catch up at most one second of ticks.
                elapsed_ns = min(mono_ns - last_mono_ns, NS_PER_S)
                last_mono_ns = mono_ns
                received_ns = self._wall_clock_ns()
                session_start_ns = self._session_start_ns
                ts_ns = (
                    received_ns if session_start_ns is None else session_start_ns + mono_ns - first_mono_ns
                )
            else:
                await asyncio.sleep(0)  # let other tasks run between batches
                elapsed_ns = interval_ns
                received_ns = ts_ns = simulated_ns
                simulated_ns += interval_ns
            due += self._rate * elapsed_ns / NS_PER_S
            count = int(due)
            due -= count
            if self._max_ticks is not None:
                count = min(count, self._max_ticks - emitted)
            if count:
                emitted += count
                yield self.market.next_ticks(count, ts_ns, received_ns)
