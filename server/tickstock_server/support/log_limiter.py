"""Rate limit for repeated log lines: one line per key per interval."""

from __future__ import annotations

from collections.abc import Callable

from tickstock_server.support.time_units import NS_PER_S


class LogLimiter:
    """Allows one log line per key per interval."""

    def __init__(self, interval_s: float, clock_ns: Callable[[], int]) -> None:
        """Allow a key once per `interval_s` seconds of `clock_ns` (UTC epoch ns)."""
        self._interval_ns = round(interval_s * NS_PER_S)
        self._clock_ns = clock_ns
        self._last_ns: dict[str, int] = {}

    def allow(self, key: str, now_ns: int | None = None) -> bool:
        """Whether to log `key` now (`now_ns`, or the clock's time); if so, the interval starts again."""
        if now_ns is None:
            now_ns = self._clock_ns()
        last_ns = self._last_ns.get(key)
        if last_ns is not None and now_ns - last_ns < self._interval_ns:
            return False
        self._last_ns[key] = now_ns
        return True
