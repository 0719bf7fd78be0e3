"""The US equity market-session clock: status, period and session key of an event time, in US/Eastern."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from tickstock_server.domain.events import MarketPeriod, MarketStatus

__all__ = ["EASTERN", "MarketClock", "MarketSession", "market_session_at"]

EASTERN = ZoneInfo("America/New_York")
"""US/Eastern, the zone all session boundaries are defined in (DST-aware)."""

_NS_PER_MINUTE = 60_000_000_000

# Boundaries in ET minutes since midnight. They are all whole minutes, and the ET offset from UTC is
# a whole number of hours, so status and period are constant within any UTC minute: that is what
# makes the per-minute cache of MarketClock exact.
_PRE_START = 4 * 60
_REGULAR_START = 9 * 60 + 30
_OPENING_END = 9 * 60 + 45
_CLOSING_START = 15 * 60 + 30
_REGULAR_END = 16 * 60
_AFTER_END = 20 * 60

_STATUS_INDEX = {status: index for index, status in enumerate(MarketStatus)}


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketSession:
    """Where an event time falls in the US equity trading day.

    No exchange-holiday calendar is applied: a weekday holiday reads as a normal trading day.
    """

    status: MarketStatus
    """PRE 04:00-09:30, REGULAR 09:30-16:00, AFTER 16:00-20:00 ET on weekdays; CLOSED otherwise."""
    period: MarketPeriod
    """PREMARKET, OPENING 09:30-09:45, MIDDAY 09:45-15:30, CLOSING 15:30-16:00, AFTERHOURS, CLOSED."""
    trading_date: dt.date
    """Calendar date in US/Eastern."""
    minute_of_day: int
    """Minutes since midnight in US/Eastern, 0 to 1439."""
    key: int
    """Identity of the session: equal for two event times exactly when their ET date and status are equal.

    Detectors compare it with the previous tick's key to notice a session change (a status change, or
    the same status on another day, as when a replay skips from one regular session to the next).
    """


def market_session_at(ts_ns: int) -> MarketSession:
    """Compute the market session of an event time, without caching.

    Args:
        ts_ns: Event time, UTC epoch nanoseconds.

    Returns:
        The session; see `MarketClock` for the cached variant used on the hot path.
    """
    return _session_for_minute(ts_ns // _NS_PER_MINUTE)


def _session_for_minute(utc_minute: int) -> MarketSession:
    local = dt.datetime.fromtimestamp(utc_minute * 60, tz=EASTERN)
    minute_of_day = local.hour * 60 + local.minute
    status, period = _classify(local.weekday(), minute_of_day)
    trading_date = local.date()
    return MarketSession(
        status=status,
        period=period,
        trading_date=trading_date,
        minute_of_day=minute_of_day,
        key=trading_date.toordinal() * len(_STATUS_INDEX) + _STATUS_INDEX[status],
    )


def _classify(weekday: int, minute_of_day: int) -> tuple[MarketStatus, MarketPeriod]:
    if weekday >= 5 or minute_of_day < _PRE_START or minute_of_day >= _AFTER_END:
        return MarketStatus.CLOSED, MarketPeriod.CLOSED
    if minute_of_day < _REGULAR_START:
        return MarketStatus.PRE, MarketPeriod.PREMARKET
    if minute_of_day >= _REGULAR_END:
        return MarketStatus.AFTER, MarketPeriod.AFTERHOURS
    if minute_of_day < _OPENING_END:
        return MarketStatus.REGULAR, MarketPeriod.OPENING
    if minute_of_day < _CLOSING_START:
        return MarketStatus.REGULAR, MarketPeriod.MIDDAY
    return MarketStatus.REGULAR, MarketPeriod.CLOSING


class MarketClock:
    """Market session per event time, memoised per UTC minute for the 100k ticks/s hot path.

    A zoneinfo conversion costs microseconds; ticks of one minute all share one `MarketSession`, so
    the clock keeps the last minute's session (the common case: ticks arrive in time order) plus a
    bounded map of recently seen minutes (ticks of many symbols interleave around a minute boundary).
    The result is exact, not an approximation, because every session boundary is a whole ET minute.
    Pure: the time comes only from the argument, never from the wall clock.
    """

    __slots__ = ("_by_minute", "_last_minute", "_last_session", "_max_minutes")

    def __init__(self, *, max_minutes: int = 4096) -> None:
        """Create an empty clock.

        Args:
            max_minutes: Distinct UTC minutes remembered before the map is cleared (bounds memory).
        """
        self._max_minutes = max_minutes
        self._by_minute: dict[int, MarketSession] = {}
        self._last_minute = -1
        self._last_session: MarketSession | None = None

    def session_at(self, ts_ns: int) -> MarketSession:
        """Return the market session of an event time.

        Args:
            ts_ns: Event time, UTC epoch nanoseconds.
        """
        minute = ts_ns // _NS_PER_MINUTE
        session = self._last_session
        if minute == self._last_minute and session is not None:
            return session
        session = self._by_minute.get(minute)
        if session is None:
            if len(self._by_minute) >= self._max_minutes:
                self._by_minute.clear()
            session = _session_for_minute(minute)
            self._by_minute[minute] = session
        self._last_minute = minute
        self._last_session = session
        return session
