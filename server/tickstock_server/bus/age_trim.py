"""When entries of the event stream grow too old: the seq the stream had at most once a second."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class AgeTrim:
    """Remembers (time, last seq) once a second, so the stream can be trimmed by age with ``MINID``."""

    def __init__(self, max_age_s: float, clock: Callable[[], float]) -> None:
        """Keep entries for `max_age_s` seconds of `clock` (monotonic)."""
        self._max_age_s = max_age_s
        self._clock = clock
        self._checkpoints: deque[tuple[float, int]] = deque()

    def note(self, seq: int) -> None:
        """The stream holds entries up to `seq` now (recorded at most once a second)."""
        now = self._clock()
        if not self._checkpoints or now - self._checkpoints[-1][0] >= 1.0:
            self._checkpoints.append((now, seq))

    def trim_seq(self) -> int:
        """The oldest seq to keep by age (0 when nothing is old enough yet)."""
        horizon = self._clock() - self._max_age_s
        trim = 0
        while self._checkpoints and self._checkpoints[0][0] < horizon:
            trim = self._checkpoints.popleft()[1] + 1
        return trim
