"""The fallback detector in every topology: where it runs, and how its patterns reach the pattern caches.

The process that owns the completed one-minute bars runs the detector, with the same rules everywhere
(`patterns/fallback_feed.py`):

- all-in-one (`role = all`): its patterns go to the pattern cache, whose listener puts them into the
  event log;
- ingest (`role = ingest`, each shard over its own symbols): its switch follows the producer heartbeat
  that the ingest's own producer consumer sees, and its patterns go straight into the event log as
  PATTERN events (source FALLBACK). The ingest publishes the switch's state with its feed pulse.
- gateway: it runs no detector and no switch. It takes the PATTERN events whose source is FALLBACK
  from the event stream it follows into its pattern cache (`logged_fallback_patterns`), and reports the
  ingest's switch state. The producer's patterns it gets from its own producer consumer, as before, so
  it takes only FALLBACK ones from the stream and no pattern is cached twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from tickstock_server.api.mappers.pattern_events import fallback_pattern_from_event
from tickstock_server.config import PatternSettings
from tickstock_server.domain.events import EventType
from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.domain.patterns import Pattern
from tickstock_server.patterns.fallback import FallbackPatternDetector
from tickstock_server.patterns.fallback_feed import FallbackFeed
from tickstock_server.patterns.fallback_switch import FallbackSwitch
from tickstock_server.patterns.service import PatternService

SWITCH_OBSERVE_S = 5.0
"""Interval of the fallback switch's looks at the producer's heartbeat, seconds."""

_PATTERN = EventType.PATTERN.value


def fallback_feed(
    config: PatternSettings, *, clock_ns: Callable[[], int] = time.time_ns
) -> FallbackFeed | None:
    """The fallback detector behind its switch, as `config` sets it; None when the fallback is off."""
    if not config.fallback:
        return None
    return FallbackFeed(
        detector=FallbackPatternDetector(ttl_s=max(round(config.cache_ttl_s), 1)),
        switch=FallbackSwitch(
            activate_after_s=config.fallback_activate_after_s,
            stand_down_after_s=config.fallback_stand_down_after_s,
        ),
        ttl_s=config.cache_ttl_s,
        clock_ns=clock_ns,
    )


def logged_fallback_patterns(patterns: PatternService) -> Callable[[Sequence[LogEntry]], None]:
    """A gateway's taker of followed log entries: the fallback patterns among them join its cache.

    Each enters once (the ingest logs a pattern once, and one warmed from the mirror is skipped), capped
    at the TTL and queued for the mirror like a producer's pattern, so a restarted gateway warms with it.
    """

    def take(entries: Sequence[LogEntry]) -> None:
        found: list[Pattern] = []
        for entry in entries:
            if entry.fields.type == _PATTERN:
                pattern = fallback_pattern_from_event(entry.encoded)
                if pattern is not None:
                    found.append(pattern)
        if found:
            patterns.add_unseen(found)

    return take
