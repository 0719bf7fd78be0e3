"""When the fallback detector runs: the producer's heartbeat age with hysteresis, so it never flaps."""

from __future__ import annotations

import decimal
import logging

from tickstock_server.support.metric_samples import MetricSample, counter, gauge
from tickstock_server.support.time_units import NS_PER_S

__all__ = ["FallbackSwitch", "heartbeat_ns_from_redis"]

_logger = logging.getLogger(__name__)

_MAX_EPOCH_S = 32_503_680_000  # year 3000: anything later is garbage, not a time


def heartbeat_ns_from_redis(raw: bytes | str | None) -> int | None:
    """Parse the producer's heartbeat key (``tickstock:producer:heartbeat``, an epoch-seconds float).

    Args:
        raw: The key's value as Redis returned it; None when the key does not exist.

    Returns:
        The heartbeat as UTC epoch ns, or None when missing or not a plausible epoch time (a garbled
        heartbeat proves nothing about the producer, so it counts as never seen).
    """
    if raw is None:
        return None
    try:
        # Decimal, not float: the value's digits convert to ns exactly (a float epoch has ~0.2 us steps).
        epoch_s = decimal.Decimal(raw.decode("ascii") if isinstance(raw, bytes) else raw)
    except (UnicodeDecodeError, decimal.InvalidOperation):
        return None
    if not epoch_s.is_finite() or not 0 < epoch_s < _MAX_EPOCH_S:
        return None
    return int(epoch_s * NS_PER_S)


class FallbackSwitch:
    """Decides from the producer's heartbeat whether the local fallback detector should be active.

    The original activated whenever the heartbeat was older than 30 s while the producer wrote it every
    60 s, so the fallback switched on and off every minute. This switch uses
    hysteresis instead:

    - Inactive -> active: the newest heartbeat is at least `activate_after_s` old, or no heartbeat
      has been seen and `startup_grace_s` have passed since the first observation (a server starting
      next to a healthy producer waits for its first heartbeat instead of flashing on).
    - Active -> inactive: every observation during the last `stand_down_after_s` saw a fresh heartbeat
      (younger than `activate_after_s`). One stale or missing observation restarts that period.

    `activate_after_s` must exceed the producer's heartbeat interval (a healthy producer then never
    looks stale), and `stand_down_after_s` must exceed `activate_after_s`: a single heartbeat stays
    fresh for less than `activate_after_s`, so the fallback stands down only once the producer has
    written at least twice, proving it is running again rather than a one-off write.

    A heartbeat from the future (clock skew between hosts) counts as age 0. Time comes from the caller
    (`now_ns`), so tests drive it directly.
    """

    def __init__(
        self,
        *,
        activate_after_s: float = 90.0,
        stand_down_after_s: float = 120.0,
        startup_grace_s: float | None = None,
    ) -> None:
        """Create an inactive switch.

        Args:
            activate_after_s: Heartbeat age, seconds, at which the producer counts as gone. The
                producer writes every 15-60 s; the default leaves room for one missed write.
            stand_down_after_s: Seconds of continuously fresh heartbeats before the fallback stands
                down; must exceed `activate_after_s`.
            startup_grace_s: Seconds after the first observation during which a missing heartbeat
                does not activate the fallback; `activate_after_s` when None.
        """
        grace_s = activate_after_s if startup_grace_s is None else startup_grace_s
        if activate_after_s <= 0 or grace_s < 0:
            raise ValueError("activate_after_s must be positive and startup_grace_s not negative")
        if stand_down_after_s <= activate_after_s:
            raise ValueError("stand_down_after_s must exceed activate_after_s")
        self._activate_after_ns = round(activate_after_s * NS_PER_S)
        self._stand_down_after_ns = round(stand_down_after_s * NS_PER_S)
        self._startup_grace_ns = round(grace_s * NS_PER_S)
        self._first_observed_ns: int | None = None
        self._fresh_since_ns: int | None = None
        self.active = False
        """Whether the fallback detector should run, as of the last observation."""
        self.active_since_ns: int | None = None
        """When the current active period began (observation time, UTC epoch ns); None while inactive."""
        self.activations = 0
        """Times the switch turned active."""
        self.stand_downs = 0
        """Times the switch turned inactive again."""
        self.heartbeat_age_s: float | None = None
        """Heartbeat age at the last observation, seconds; None when no heartbeat was seen."""

    def metric_samples(self) -> list[MetricSample]:
        """Activations and stand-downs so far, and whether the fallback is active now."""
        return [
            counter(
                "tickstock_pattern_fallback_activations",
                "Times the fallback pattern detector took over because the producer's heartbeat was stale.",
                self.activations,
            ),
            counter(
                "tickstock_pattern_fallback_stand_downs",
                "Times the fallback pattern detector stood down because the producer's heartbeat was fresh.",
                self.stand_downs,
            ),
            gauge(
                "tickstock_pattern_fallback_active",
                "1 while the fallback pattern detector feeds the pattern cache.",
                float(self.active),
            ),
        ]

    def observe(self, now_ns: int, heartbeat_ns: int | None) -> bool:
        """Record one look at the heartbeat key and return whether the fallback should be active.

        Args:
            now_ns: Current time, UTC epoch ns; should not decrease between calls.
            heartbeat_ns: The producer's latest heartbeat, UTC epoch ns; None when missing.
        """
        if self._first_observed_ns is None:
            self._first_observed_ns = now_ns
        if heartbeat_ns is None:
            self.heartbeat_age_s = None
            fresh = False
            stale = now_ns - self._first_observed_ns >= self._startup_grace_ns
        else:
            age_ns = max(now_ns - heartbeat_ns, 0)
            self.heartbeat_age_s = age_ns / NS_PER_S
            fresh = age_ns < self._activate_after_ns
            stale = not fresh
        if not fresh:
            self._fresh_since_ns = None
        elif self._fresh_since_ns is None:
            self._fresh_since_ns = now_ns
        if not self.active and stale:
            self.active = True
            self.active_since_ns = now_ns
            self.activations += 1
            if self.heartbeat_age_s is None:
                _logger.warning("no producer heartbeat; fallback pattern detection active")
            else:
                _logger.warning(
                    "producer heartbeat %.0f s old; fallback pattern detection active", self.heartbeat_age_s
                )
        elif (
            self.active
            and self._fresh_since_ns is not None
            and now_ns - self._fresh_since_ns >= self._stand_down_after_ns
        ):
            self.active = False
            self.active_since_ns = None
            self.stand_downs += 1
            _logger.info("producer heartbeat fresh again; fallback pattern detection stands down")
        return self.active
