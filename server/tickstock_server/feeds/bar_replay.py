"""Replay of stored one-minute bars as ticks (feed kind "bars"), as fast as possible or paced."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.tick import Tick
from tickstock_server.feeds.bar_path import TICK_OFFSETS_NS, ticks_from_bar
from tickstock_server.feeds.pacing import EventTimePacer
from tickstock_server.ports.bars import MinuteBarHistory
from tickstock_server.support.time_units import NS_PER_MINUTE

__all__ = ["BarReplayTickSource"]

_logger = logging.getLogger(__name__)


class BarReplayTickSource:
    """`TickSource` over stored one-minute bars: each bar becomes the ticks of `ticks_from_bar`.

    Bars are read a window of `window_minutes` at a time, ordered by (start, symbol), so memory holds at most
    one window's bars (window x symbols) whatever the range. A batch holds every tick of one event time
    (the same offset within the same minute, over all the symbols of that minute), in symbol order;
    batches come in event-time order. The ticks' event times are the bars' times, so the detectors, the
    sessions and the market clock of the service (GetBars' default end, for one) follow the replayed
    day, not the wall clock. The replay ends after the last bar, with one INFO line giving the totals.

    - As fast as possible (`speed=None`): `received_ns` is the event time too, so two replays give
      identical ticks; control returns to the event loop between batches.
    - Paced (`speed=x`): a batch is released when its event time is due: its distance from the
      first batch's event time scaled by 1/x, after the first batch's release. `received_ns` is the
      wall clock at release.
    """

    def __init__(
        self,
        history: MinuteBarHistory,
        *,
        symbols: Callable[[], Awaitable[Sequence[str] | None]],
        start_ns: int,
        end_ns: int,
        speed: float | None = None,
        window_minutes: int = 15,
        clock_ns: Callable[[], int] = time.time_ns,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        """Create the source; nothing is read until `ticks()` is iterated.

        Args:
            history: Where the stored bars come from.
            symbols: Returns the symbols to replay (None: every symbol with a bar in the range);
                awaited once, at start.
            start_ns: Bars starting at or after this UTC epoch ns are replayed.
            end_ns: Bars starting before this UTC epoch ns are replayed.
            speed: Replay speed relative to event time, > 0; None for as fast as possible.
            window_minutes: Minutes of bars read per query, >= 1.
            clock_ns: Wall clock for `received_ns` in paced mode, UTC epoch nanoseconds.
            sleep: Awaitable sleep in seconds, used for pacing (injectable for tests).
            monotonic_ns: Clock the pacing is measured on, nanoseconds (injectable for tests).
        """
        if speed is not None and not speed > 0:
            raise ValueError("speed must be > 0 or None")
        if window_minutes < 1:
            raise ValueError("window_minutes must be >= 1")
        if end_ns <= start_ns:
            raise ValueError("end_ns must be after start_ns")
        self._history = history
        self._symbols = symbols
        self._start_ns = start_ns
        self._end_ns = end_ns
        self._speed = speed
        self._window_minutes = window_minutes
        self._clock_ns = clock_ns
        self._sleep = sleep
        self._monotonic_ns = monotonic_ns
        self.bars_read = 0
        """Stored bars read so far."""

    @property
    def rejected(self) -> Mapping[str, int]:
        """Nothing is ever rejected: stored bars were validated when they were written."""
        return {}

    async def ticks(self) -> AsyncIterator[list[Tick]]:
        """Yield the ticks of the stored bars in batches of one event time each, until the last bar.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        pacer = (
            None
            if self._speed is None
            else EventTimePacer(
                self._speed, clock_ns=self._clock_ns, sleep=self._sleep, monotonic_ns=self._monotonic_ns
            )
        )
        batches = 0
        async for batch in self._batches():
            batches += 1
            if pacer is None:
                yield batch
                await asyncio.sleep(0)  # let the rest of the service run between batches
            else:
                yield await pacer.release(batch, batch[0].ts_ns)
        _logger.info("Replay of stored bars ended: %d bars, %d batches of ticks", self.bars_read, batches)

    async def _batches(self) -> AsyncIterator[list[Tick]]:
        """Ticks grouped by event time: four batches per minute, a window of minutes per query."""
        symbols = await self._symbols()
        if symbols is None:
            symbols = await self._history.symbols_between(self._start_ns, self._end_ns)
        if not symbols:
            return
        window_ns = self._window_minutes * NS_PER_MINUTE
        for window_start_ns in range(self._start_ns, self._end_ns, window_ns):
            bars = await self._history.minute_bars(
                symbols, window_start_ns, min(window_start_ns + window_ns, self._end_ns)
            )
            self.bars_read += len(bars)
            minute: list[Bar] = []  # bars of one minute, in symbol order
            for bar in bars:
                if minute and bar.start_ns != minute[0].start_ns:
                    for batch in _minute_batches(minute):
                        yield batch
                    minute = []
                minute.append(bar)
            for batch in _minute_batches(minute):
                yield batch


def _minute_batches(bars: list[Bar]) -> list[list[Tick]]:
    """The ticks of one minute's bars (in symbol order) as one batch per tick offset."""
    if not bars:
        return []
    paths = [ticks_from_bar(bar) for bar in bars]
    return [[path[step] for path in paths] for step in range(len(TICK_OFFSETS_NS))]
