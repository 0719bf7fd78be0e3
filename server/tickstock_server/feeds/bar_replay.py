"""Replay of stored one-minute bars as ticks (feed kind "bars"), as fast as possible or paced."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

from tickstock_server.domain.tick import Tick
from tickstock_server.feeds.bar_path import ticks_from_bar
from tickstock_server.feeds.pacing import EventTimePacer
from tickstock_server.ports.bars import MinuteBarHistory

__all__ = ["BarReplayTickSource"]

_logger = logging.getLogger(__name__)


class BarReplayTickSource:
    """`TickSource` over stored one-minute bars: each bar becomes the ticks of `ticks_from_bar`.

    Bars are read in pages of `page_bars`, ordered by (start, symbol), so memory stays bounded
    whatever the range. A batch holds every tick of one event time (the same offset within the same
    minute, over all the symbols of that minute), in symbol order; batches come in event-time order.
    The ticks' event times are the bars' times, so the detectors, the sessions and the market clock
    of the service (GetBars' default end, for one) follow the replayed day, not the wall clock. The
    replay ends after the last bar, with one INFO line giving the totals.

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
        page_bars: int = 5000,
        clock_ns: Callable[[], int] = time.time_ns,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        """Create the source; nothing is read until `ticks()` is iterated.

        Args:
            history: Where the stored bars come from.
            symbols: Returns the symbols to replay (None: every stored symbol); awaited once, at start.
            start_ns: Bars starting at or after this UTC epoch ns are replayed.
            end_ns: Bars starting before this UTC epoch ns are replayed.
            speed: Replay speed relative to event time, > 0; None for as fast as possible.
            page_bars: Bars read per query, >= 1.
            clock_ns: Wall clock for `received_ns` in paced mode, UTC epoch nanoseconds.
            sleep: Awaitable sleep in seconds, used for pacing (injectable for tests).
            monotonic_ns: Clock the pacing is measured on, nanoseconds (injectable for tests).
        """
        if speed is not None and not speed > 0:
            raise ValueError("speed must be > 0 or None")
        if page_bars < 1:
            raise ValueError("page_bars must be >= 1")
        if end_ns <= start_ns:
            raise ValueError("end_ns must be after start_ns")
        self._history = history
        self._symbols = symbols
        self._start_ns = start_ns
        self._end_ns = end_ns
        self._speed = speed
        self._page_bars = page_bars
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
        """Ticks grouped by event time; a minute's ticks are complete once the next minute's bars show."""
        symbols = await self._symbols()
        pending: list[Tick] = []  # ticks of the minute still being read (its bars may span pages)
        after: tuple[int, str] | None = None
        while True:
            page = await self._history.minute_bars_page(
                symbols, self._start_ns, self._end_ns, after=after, limit=self._page_bars
            )
            self.bars_read += len(page)
            for bar in page:
                pending += ticks_from_bar(bar)
            last_page = len(page) < self._page_bars
            # Every bar of a minute before the page's last minute has been read: those ticks are final.
            complete_before_ns = self._end_ns if last_page else page[-1].start_ns
            ready = sorted(
                (tick for tick in pending if tick.ts_ns < complete_before_ns),
                key=lambda tick: (tick.ts_ns, tick.symbol),
            )
            pending = [tick for tick in pending if tick.ts_ns >= complete_before_ns]
            for group in _by_event_time(ready):
                yield group
            if last_page:
                return
            after = (page[-1].start_ns, page[-1].symbol)


def _by_event_time(ticks: list[Tick]) -> list[list[Tick]]:
    groups: list[list[Tick]] = []
    for tick in ticks:
        if groups and groups[-1][0].ts_ns == tick.ts_ns:
            groups[-1].append(tick)
        else:
            groups.append([tick])
    return groups
