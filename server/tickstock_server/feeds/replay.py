"""Replay of a recorded Massive feed: a JSON-lines file of raw frames, as fast as possible or paced."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from pathlib import Path

from tickstock_server.domain.tick import Tick
from tickstock_server.feeds.massive_frames import MassiveFrameParser
from tickstock_server.feeds.pacing import EventTimePacer

__all__ = ["ReplayTickSource"]

_logger = logging.getLogger(__name__)


class ReplayTickSource:
    """`TickSource` over a recording made by `MassiveTickSource` (one raw frame per line).

    Every line goes through the live feed's `MassiveFrameParser`, so the replay yields the ticks the
    live feed yielded; bad lines are counted in `rejected` and skipped like bad frames, blank lines
    are ignored. A batch holds the ticks of up to `batch_frames` consecutive lines (frames without a
    valid event add nothing and a batch is never empty). The replay ends with the file, and one INFO
    line then gives the totals: frames, ticks, rejected by reason.

    - As fast as possible (`speed=None`): every tick's `received_ns` is its own event time, so two
      replays give identical ticks; control returns to the event loop between batches.
    - Paced (`speed=x`): a batch is released when the latest event time among its frames is due:
      its distance from the first batch's latest event time, scaled by 1/x (2.0 replays twice as
      fast as recorded), after the first batch's release.
      Event times going backwards release at once. `received_ns` is the wall clock at release.

    The file is read with ordinary buffered (blocking) reads: a local file, read a line at a time.
    """

    def __init__(
        self,
        path: Path,
        *,
        speed: float | None = None,
        batch_frames: int = 1,
        clock_ns: Callable[[], int] = time.time_ns,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        """Create the source; the file is opened when `ticks()` is iterated.

        Args:
            path: The JSON-lines recording.
            speed: Replay speed relative to the recorded event times, > 0; None for as fast as possible.
            batch_frames: Frames (lines) per batch, >= 1.
            clock_ns: Wall clock for `received_ns` in paced mode, UTC epoch nanoseconds.
            sleep: Awaitable sleep in seconds, used for pacing (injectable for tests).
            monotonic_ns: Clock the pacing is measured on, nanoseconds (injectable for tests).
        """
        if speed is not None and not speed > 0:
            raise ValueError("speed must be > 0 or None")
        if batch_frames < 1:
            raise ValueError("batch_frames must be >= 1")
        self.path = path
        self._speed = speed
        self._batch_frames = batch_frames
        self._clock_ns = clock_ns
        self._sleep = sleep
        self._monotonic_ns = monotonic_ns
        self._parser = MassiveFrameParser()

    @property
    def frames_read(self) -> int:
        """Frames (non-blank lines) read so far."""
        return self._parser.frames_parsed

    @property
    def ticks_parsed(self) -> int:
        """Ticks produced so far."""
        return self._parser.ticks_parsed

    @property
    def rejected(self) -> Mapping[str, int]:
        """Skipped lines and events by reason (see `RejectReason`)."""
        return self._parser.rejected

    async def ticks(self) -> AsyncIterator[list[Tick]]:
        """Yield the recording's ticks in batches until the file ends.

        Raises:
            OSError: The file cannot be opened or read.
        """
        speed = self._speed
        # Paced ticks are parsed with a placeholder arrival time and stamped on release.
        batches = self._batches(None if speed is None else 0)
        try:
            if speed is None:
                for batch in batches:
                    yield batch
                    await asyncio.sleep(0)  # let the rest of the service run between batches
                self._log_totals()
                return
            pacer = EventTimePacer(
                speed, clock_ns=self._clock_ns, sleep=self._sleep, monotonic_ns=self._monotonic_ns
            )
            for batch in batches:
                yield await pacer.release(batch, max(tick.ts_ns for tick in batch))
            self._log_totals()
        finally:
            batches.close()

    def _log_totals(self) -> None:
        rejected = sorted(self.rejected.items())
        _logger.info(
            "Replay of %s ended: %d frames, %d ticks, %d rejected%s",
            self.path.name,
            self.frames_read,
            self.ticks_parsed,
            sum(count for _, count in rejected),
            "".join(f"; {reason} {count}" for reason, count in rejected),
        )

    def _batches(self, received_ns: int | None) -> Generator[list[Tick], None, None]:
        """The file's non-empty batches, each the ticks of up to `batch_frames` non-blank lines."""
        parse = self._parser.parse
        batch: list[Tick] = []
        frames = 0
        with self.path.open("rb") as lines:
            for line in lines:
                if line.isspace():
                    continue
                batch += parse(line, received_ns)
                frames += 1
                if frames == self._batch_frames:
                    frames = 0
                    if batch:
                        yield batch
                        batch = []
        if batch:
            yield batch
