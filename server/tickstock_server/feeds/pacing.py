"""Pacing a replay by its event times: a batch is released when its event time is due at the speed."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from tickstock_server.domain.tick import Tick
from tickstock_server.support.time_units import NS_PER_S

__all__ = ["EventTimePacer"]


class EventTimePacer:
    """Releases batches at `speed` times their event-time pace, stamping their ticks on release.

    The first batch goes at once; a later one when its event time's distance from the first batch's,
    divided by `speed`, has passed on `monotonic_ns` since the first release. Event times going
    backwards release at once. Released ticks get the wall clock (`clock_ns`) as `received_ns`.
    """

    def __init__(
        self,
        speed: float,
        *,
        clock_ns: Callable[[], int],
        sleep: Callable[[float], Awaitable[None]],
        monotonic_ns: Callable[[], int],
    ) -> None:
        """Pace at `speed` (> 0) with the given clocks and sleep (injectable for tests)."""
        self._speed = speed
        self._clock_ns = clock_ns
        self._sleep = sleep
        self._monotonic_ns = monotonic_ns
        self._first_ts_ns: int | None = None
        self._start_mono_ns = 0

    async def release(self, batch: list[Tick], ts_ns: int) -> list[Tick]:
        """Wait until `batch` (event time `ts_ns`) is due; return it stamped with the release time."""
        if self._first_ts_ns is None:
            self._first_ts_ns, self._start_mono_ns = ts_ns, self._monotonic_ns()
        due_mono_ns = self._start_mono_ns + (ts_ns - self._first_ts_ns) / self._speed
        await self._sleep(max(due_mono_ns - self._monotonic_ns(), 0.0) / NS_PER_S)
        received_ns = self._clock_ns()
        return [dataclasses.replace(tick, received_ns=received_ns) for tick in batch]
