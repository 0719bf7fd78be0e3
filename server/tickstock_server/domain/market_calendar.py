"""Trading days of the US equity market: a plain per-date table of regular hours, looked up in O(1)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from zoneinfo import ZoneInfo

from tickstock_server.support.time_units import NS_PER_S

__all__ = ["EASTERN", "REGULAR_HOURS", "MarketCalendar", "TradingHours"]

EASTERN = ZoneInfo("America/New_York")
"""US/Eastern, the zone all session boundaries are defined in (DST-aware)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TradingHours:
    """The regular session of one trading day, in US/Eastern minutes since midnight."""

    open_minute: int
    """Regular open, ET minutes since midnight (570 is 09:30)."""
    close_minute: int
    """Regular close, ET minutes since midnight (960 is 16:00; 780 is 13:00 on an early close)."""

    @property
    def early_close(self) -> bool:
        """True when the regular session closes before 16:00 ET."""
        return self.close_minute < REGULAR_HOURS.close_minute


REGULAR_HOURS = TradingHours(open_minute=9 * 60 + 30, close_minute=16 * 60)
"""An ordinary full trading day: 09:30-16:00 ET."""


class MarketCalendar:
    """Which dates trade, and their regular hours: a frozen date -> `TradingHours` table.

    Within the table's range a date without an entry (weekend, holiday) is closed. Outside it every
    weekday counts as a full trading day, so a replay of data older or newer than the table still has
    sessions. The table is built once at start-up from a maintained exchange calendar (see
    `tickstock_server.market_calendars`) and passed in; lookups never touch a library or the clock.
    """

    __slots__ = ("_days", "_first", "_last", "name")

    def __init__(
        self, name: str, days: Mapping[dt.date, TradingHours], *, first: dt.date, last: dt.date
    ) -> None:
        """Create a calendar from its table.

        Args:
            name: Exchange code, for logs (`XNYS`).
            days: Every trading day in [first, last] with its regular hours.
            first: First date the table covers.
            last: Last date the table covers.
        """
        if first > last:
            raise ValueError("first must not be after last")
        self.name = name
        self._days = MappingProxyType(dict(days))
        self._first = first
        self._last = last

    @classmethod
    def every_weekday(cls) -> MarketCalendar:
        """A calendar without holidays: every weekday a full 09:30-16:00 day (for tests and demos)."""
        return cls("WEEKDAYS", {}, first=dt.date.max, last=dt.date.max)

    @property
    def first(self) -> dt.date:
        """First date of the table."""
        return self._first

    @property
    def last(self) -> dt.date:
        """Last date of the table."""
        return self._last

    def hours_on(self, day: dt.date) -> TradingHours | None:
        """The regular hours of an ET date, or None when the market is closed all day."""
        if self._first <= day <= self._last:
            return self._days.get(day)
        return REGULAR_HOURS if day.weekday() < 5 else None

    def latest_open_ns(self, now_ns: int) -> int:
        """The latest regular open at or before `now_ns` (both UTC epoch ns).

        Raises:
            ValueError: No trading day in the 31 days up to `now_ns` (not a real calendar).
        """
        local = dt.datetime.fromtimestamp(now_ns / NS_PER_S, tz=EASTERN)
        day = local.date()
        for _ in range(32):
            hours = self.hours_on(day)
            if hours is not None:
                open_time = dt.time(hours.open_minute // 60, hours.open_minute % 60)
                open_at = dt.datetime.combine(day, open_time, tzinfo=EASTERN)
                if open_at <= local:
                    return int(open_at.timestamp()) * NS_PER_S
            day -= dt.timedelta(days=1)
        raise ValueError(f"{self.name} has no trading day in the month before {local.date()}")
