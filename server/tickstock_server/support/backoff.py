"""Exponential reconnect and retry delays, shared by every loop that waits out an outage."""

from __future__ import annotations

import random


class Backoff:
    """Exponential delays capped at `max_s`; with an rng, "equal jitter" (a random delay in [d/2, d])."""

    def __init__(self, initial_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self._initial_s = initial_s
        self._max_s = max_s
        self._rng = rng
        self.attempt = 0
        """Attempts since the last success."""

    def next_delay_s(self) -> float:
        """The delay before the next attempt, seconds; counts the attempt."""
        # The exponent is capped: the delay reaches max_s long before, and 2.0**1024 overflows.
        delay_s = min(self._initial_s * 2.0 ** min(self.attempt, 64), self._max_s)
        self.attempt += 1
        if self._rng is not None:
            delay_s *= 0.5 + 0.5 * self._rng.random()
        return delay_s

    def reset(self) -> None:
        """Start again from `initial_s` (after a success)."""
        self.attempt = 0
