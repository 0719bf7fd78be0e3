"""Per-user pattern alerts: subscriptions, quiet hours, validation, and the alerts and notices delivered."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tickstock_server.domain.patterns import Pattern
from tickstock_server.domain.symbols import is_symbol
from tickstock_server.domain.universes import UNIVERSE_NAME_PATTERN
from tickstock_server.errors import FieldViolation, NotFoundError
from tickstock_server.support.time_units import NS_PER_S

DEFAULT_TIME_ZONE = "UTC"
"""Time zone of the quiet hours when the request names none."""
DEFAULT_MAX_ALERTS_PER_HOUR = 50
"""Rate limit when the request gives none (0 on the wire)."""
MAX_ALERTS_PER_HOUR = 1000
"""Highest rate limit a subscription may ask for."""

SUBSCRIPTION_ID_PREFIX = "alrt_"
"""Prefix of every alert subscription id."""
_SUBSCRIPTION_ID = re.compile(r"alrt_[A-Za-z0-9_\-]{16}")

PATTERN_TYPE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
"""Pattern name syntax, e.g. "Bull_Flag": a letter or digit, then up to 63 of those, '_', '.', '-'."""

_TIME_ZONE_KEY = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")
_MAX_TIME_ZONE_CHARS = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeOfDay:
    """A wall-clock time of day; valid when hours are 0-23 and minutes 0-59 (see the validation)."""

    hours: int
    minutes: int

    @property
    def minute_of_day(self) -> int:
        """Minutes since midnight, 0 to 1439."""
        return self.hours * 60 + self.minutes


@dataclass(frozen=True, slots=True, kw_only=True)
class QuietHours:
    """A daily window in the subscription's time zone when no alerts are delivered.

    The window is half-open, ``[start, end)``. An `end` before `start` crosses midnight (22:00-07:00
    is quiet from 22:00 to 06:59 the next morning). ``start == end`` is an empty window: it never
    silences anything, exactly as if no quiet hours were set (a whole silent day is what deleting the
    subscription is for).
    """

    start: TimeOfDay
    end: TimeOfDay

    def contains(self, minute_of_day: int) -> bool:
        """Whether a local time, in minutes since midnight, falls inside the window."""
        start, end = self.start.minute_of_day, self.end.minute_of_day
        if start <= end:
            return start <= minute_of_day < end
        return minute_of_day >= start or minute_of_day < end


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertLimits:
    """Bounds on alert subscriptions."""

    max_subscriptions_per_user: int = 100
    """Most subscriptions one user may have (enforced by the alert service, atomically in the store)."""
    max_pattern_types: int = 50
    """Most pattern names in one subscription."""
    max_symbols: int = 500
    """Most symbols in one subscription."""
    max_universes: int = 20
    """Most universes in one subscription."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertSubscription:
    """A user's standing request to be alerted about patterns.

    A pattern matches when its name is in `pattern_types` (or that is empty), its symbol is in
    `symbols` or in one of `universes` (or both are empty: every symbol), and its confidence is at least
    `min_confidence`. Non-empty `symbols`/`universes` that resolve to no symbol match nothing: they
    never widen to every symbol.
    """

    subscription_id: str
    """Server-assigned id ("alrt_..."); empty before the store assigns one."""
    user: str
    """Owner; only the owner sees the subscription and its alerts."""
    pattern_types: tuple[str, ...] = ()
    """Pattern names as the producer spells them (exact match), in the user's order; empty means all."""
    symbols: tuple[str, ...] = ()
    """Tickers in the user's order."""
    universes: tuple[str, ...] = ()
    """Universe names; their members are resolved when the subscription is loaded or created."""
    min_confidence: float = 0.0
    """Minimum pattern confidence, 0 to 1, the scale patterns carry (the original compared 0-1 values
    with a 0-100 threshold)."""
    quiet_hours: QuietHours | None = None
    """Daily window without alerts, in `time_zone`; None for none."""
    time_zone: str = DEFAULT_TIME_ZONE
    """IANA time zone of the quiet hours, e.g. "America/New_York"."""
    max_alerts_per_hour: int = DEFAULT_MAX_ALERTS_PER_HOUR
    """Most alerts delivered in any rolling hour, 1 to `MAX_ALERTS_PER_HOUR`."""
    create_ns: int = 0
    """Creation time, UTC epoch ns; 0 before the store assigns it."""

    @property
    def matches_all_symbols(self) -> bool:
        """Whether the subscription names neither symbols nor universes."""
        return not self.symbols and not self.universes


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """A pattern that matched one of the user's subscriptions and passed its quiet hours and rate limit."""

    subscription_id: str
    pattern: Pattern


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertsSuppressed:
    """Alerts of one subscription that matched but were withheld since the previous notice."""

    subscription_id: str
    quiet_hours_count: int = 0
    """Withheld because of quiet hours."""
    rate_limited_count: int = 0
    """Withheld because of the hourly rate limit."""


def new_subscription_id() -> str:
    """A fresh random subscription id: the prefix and 16 URL-safe characters (96 random bits)."""
    return SUBSCRIPTION_ID_PREFIX + secrets.token_urlsafe(12)


def is_subscription_id(text: str) -> bool:
    """Whether `text` has the shape of an id `new_subscription_id` makes (a malformed one names nothing)."""
    return _SUBSCRIPTION_ID.fullmatch(text) is not None


def subscription_not_found(subscription_id: str) -> NotFoundError:
    """The error of a subscription id the caller does not own: unknown, malformed or another user's."""
    return NotFoundError(f"no alert subscription {subscription_id!r}")


def validate_alert_subscription(
    subscription: AlertSubscription, *, limits: AlertLimits | None = None, field: str = "subscription"
) -> list[FieldViolation]:
    """Return every field of `subscription` that is invalid; empty when it is valid.

    Checks the syntax and ranges only: whether the universes exist is for the alert service to ask.
    Tickers are checked for syntax but not against the reference data, since the producer may report
    patterns on symbols this server has no reference data for.

    Args:
        subscription: The subscription as requested (`subscription_id`, `user` and `create_ns` are
            not checked).
        limits: List-size bounds; defaults when omitted.
        field: Path prefix of the violations' fields.

    Returns:
        Violations with paths such as ``subscription.symbols[2]`` or
        ``subscription.quiet_hours.start.hours``.
    """
    limits = limits or AlertLimits()
    violations = _list_violations(
        subscription.pattern_types,
        field=f"{field}.pattern_types",
        limit=limits.max_pattern_types,
        syntax=PATTERN_TYPE_PATTERN.fullmatch,
        syntax_description="is not a pattern name: a letter or digit, then up to 63 of those, '_', '.', '-'",
    )
    violations += _list_violations(
        subscription.symbols,
        field=f"{field}.symbols",
        limit=limits.max_symbols,
        syntax=is_symbol,
        syntax_description="is not a ticker: an upper-case letter, then up to 14 of A-Z, 0-9, '.', '-'",
    )
    violations += _list_violations(
        subscription.universes,
        field=f"{field}.universes",
        limit=limits.max_universes,
        syntax=UNIVERSE_NAME_PATTERN.fullmatch,
        syntax_description="is not a universe name: lower_snake_case (a-z, 0-9, _), 1 to 64 characters",
    )
    # Written so that NaN fails too.
    if not 0.0 <= subscription.min_confidence <= 1.0:
        violations.append(FieldViolation(f"{field}.min_confidence", "must be between 0 and 1"))
    if subscription.quiet_hours is not None:
        violations += _time_violations(subscription.quiet_hours.start, f"{field}.quiet_hours.start")
        violations += _time_violations(subscription.quiet_hours.end, f"{field}.quiet_hours.end")
    if load_time_zone(subscription.time_zone) is None:
        violations.append(
            FieldViolation(f"{field}.time_zone", "must be an IANA time zone, e.g. 'America/New_York'")
        )
    if not 1 <= subscription.max_alerts_per_hour <= MAX_ALERTS_PER_HOUR:
        violations.append(
            FieldViolation(f"{field}.max_alerts_per_hour", f"must be between 1 and {MAX_ALERTS_PER_HOUR}")
        )
    return violations


def load_time_zone(name: str) -> zoneinfo.ZoneInfo | None:
    """Return the IANA time zone `name`, or None when it is not one this host knows."""
    # The syntax check first: ZoneInfo turns keys into file paths under TZPATH, and its own checks only
    # reject absolute and escaping paths.
    if len(name) > _MAX_TIME_ZONE_CHARS or _TIME_ZONE_KEY.fullmatch(name) is None:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: a file under TZPATH that is not a zone (zone.tab, tzdata.zi).
        return None


def local_minute_of_day(ts_ns: int, zone: dt.tzinfo) -> int:
    """Return the wall-clock minute of the day (0-1439) in `zone` at UTC epoch nanoseconds `ts_ns`.

    The zone's rules at that instant apply, so daylight saving time is honoured.
    """
    local = dt.datetime.fromtimestamp(ts_ns // NS_PER_S, tz=zone)
    return local.hour * 60 + local.minute


def _list_violations(
    values: Sequence[str],
    *,
    field: str,
    limit: int,
    syntax: Callable[[str], object],
    syntax_description: str,
) -> list[FieldViolation]:
    if len(values) > limit:
        # Past the limit, per-item messages would only add noise (and work).
        return [FieldViolation(field, f"has {len(values)} entries; at most {limit} are allowed")]
    violations: list[FieldViolation] = []
    first_index: dict[str, int] = {}
    for index, value in enumerate(values):
        if not syntax(value):
            violations.append(FieldViolation(f"{field}[{index}]", syntax_description))
        elif value in first_index:
            violations.append(
                FieldViolation(f"{field}[{index}]", f"repeats {field}[{first_index[value]}] ({value})")
            )
        else:
            first_index[value] = index
    return violations


def _time_violations(time: TimeOfDay, field: str) -> list[FieldViolation]:
    violations: list[FieldViolation] = []
    if not 0 <= time.hours <= 23:
        violations.append(FieldViolation(f"{field}.hours", "must be between 0 and 23"))
    if not 0 <= time.minutes <= 59:
        violations.append(FieldViolation(f"{field}.minutes", "must be between 0 and 59"))
    return violations
