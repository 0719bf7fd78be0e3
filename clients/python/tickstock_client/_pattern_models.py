"""What PatternService returns besides patterns: cache statistics, alert subscriptions and alerts.

Frozen dataclasses like those of `_models`: times are aware UTC datetimes, durations timedeltas.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from tickstock_client._models import Pattern

__all__ = ["Alert", "AlertItem", "AlertSubscription", "AlertsSuppressed", "PatternStats"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternStats:
    """The pattern cache and the pattern producer as the server sees them (`get_pattern_stats`)."""

    cached_patterns: int
    """Patterns in the cache now."""
    events_processed: int
    """Pattern messages processed since the server started."""
    invalid_messages: int
    """Messages rejected as invalid since the server started."""
    last_event_time: datetime | None
    """Time of the newest pattern; None when the cache has seen none."""
    expired_cleaned: int
    """Patterns removed on expiry since the server started."""
    scans: int
    """Scans answered since the server started."""
    producer_heartbeat_age: timedelta | None
    """Age of the producer's last heartbeat; None when none was ever seen."""
    fallback_active: bool
    """Whether the server's own fallback detector stands in for the producer."""
    patterns_by_type: dict[str, int]
    """Patterns in the cache per pattern name, sorted by name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertSubscription:
    """A standing request of the caller to be alerted about patterns (`create_alert_subscription`)."""

    subscription_id: str
    pattern_types: tuple[str, ...]
    """Pattern names to alert on; empty means all."""
    symbols: tuple[str, ...]
    """Tickers, combined with `universes`; both empty means all symbols."""
    universes: tuple[str, ...]
    min_confidence: float
    """Least confidence of an alerted pattern, 0 to 1."""
    quiet_hours: tuple[time, time] | None
    """(start, end) of a daily window in `time_zone` without alerts; an end before the start crosses
    midnight. None when the subscription has none."""
    time_zone: str
    """IANA name of the quiet hours' time zone, e.g. "America/New_York"."""
    max_alerts_per_hour: int
    """Most alerts in a rolling hour; beyond it they are counted as suppressed."""
    create_time: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """A pattern that matched one of the caller's subscriptions."""

    subscription_id: str
    pattern: Pattern


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertsSuppressed:
    """Alerts of one subscription that matched but were withheld since the previous notice."""

    subscription_id: str
    quiet_hours_count: int
    """Withheld because they fell into the quiet hours."""
    rate_limited_count: int
    """Withheld because of the hourly limit."""


AlertItem = Alert | AlertsSuppressed
"""What `stream_alerts` yields: alerts, and notices of alerts withheld."""
