"""The US equity market-session clock: status, period and session key of an event time, in US/Eastern."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tickstock_server.domain.events import MarketPeriod, MarketStatus
from tickstock_server.domain.market_calendar import EASTERN, MarketCalendar, TradingHours
from tickstock_server.support.time_units import NS_PER_MINUTE

__all__ = ["EASTERN", "MarketClock", "MarketSession", "market_session_at"]


# Boundaries relative to the day's regular hours, in ET minutes. They are all whole minutes, and the ET
# offset from UTC is a whole number of hours, so status and period are constant within any UTC minute:
# that is what makes the per-minute cache of MarketClock exact.
_PRE_START = 4 * 60
_OPENING_MINUTES = 15
_CLOSING_MINUTES = 30
_AFTER_MINUTES = 4 * 60  # 16:00-20:00 on a full day, 13:00-17:00 after an early close

_STATUS_INDEX = {status: index for index, status in enumerate(MarketStatus)}
_WEEKDAYS = MarketCalendar.every_weekday()


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketSession:
    """Where an event time falls in the US equity trading day, by the exchange calendar."""

    status: MarketStatus
    """PRE 04:00 to the open, REGULAR open to close, AFTER four hours from the close on trading days;
    CLOSED otherwise (weekends, holidays, nights)."""
    period: MarketPeriod
    """PREMARKET, OPENING (first 15 minutes), MIDDAY, CLOSING (last 30 minutes), AFTERHOURS, CLOSED."""
    trading_date: dt.date
    """Calendar date in US/Eastern."""
    minute_of_day: int
    """Minutes since midnight in US/Eastern, 0 to 1439."""
    hours: TradingHours | None
    """The regular hours of `trading_date`; None when the market is closed all day."""
    key: int
    """Identity of the session: equal for two event times exactly when their ET date and status are equal.

    Detectors compare it with the previous tick's key to notice a session change (a status change, or
    the same status on another day, as when a replay skips from one regular session to the next).
    """


def market_session_at(ts_ns: int, calendar: MarketCalendar = _WEEKDAYS) -> MarketSession:
    """Compute the market session of an event time, without caching.

    Args:
        ts_ns: Event time, UTC epoch nanoseconds.
        calendar: Trading days and hours; by default every weekday is a full day.

    Returns:
        The session; see `MarketClock` for the cached variant used on the hot path.
    """
    return _session_for_minute(ts_ns // NS_PER_MINUTE, calendar)


def _session_for_minute(utc_minute: int, calendar: MarketCalendar) -> MarketSession:
    local = dt.datetime.fromtimestamp(utc_minute * 60, tz=EASTERN)
    minute_of_day = local.hour * 60 + local.minute
    trading_date = local.date()
    hours = calendar.hours_on(trading_date)
    status, period = _classify(hours, minute_of_day)
    return MarketSession(
        status=status,
        period=period,
        trading_date=trading_date,
        minute_of_day=minute_of_day,
        hours=hours,
        key=trading_date.toordinal() * len(_STATUS_INDEX) + _STATUS_INDEX[status],
    )


def _classify(hours: TradingHours | None, minute_of_day: int) -> tuple[MarketStatus, MarketPeriod]:
    if hours is None or minute_of_day < _PRE_START or minute_of_day >= hours.close_minute + _AFTER_MINUTES:
        return MarketStatus.CLOSED, MarketPeriod.CLOSED
    if minute_of_day < hours.open_minute:
        return MarketStatus.PRE, MarketPeriod.PREMARKET
    if minute_of_day >= hours.close_minute:
        return MarketStatus.AFTER, MarketPeriod.AFTERHOURS
    if minute_of_day < hours.open_minute + _OPENING_MINUTES:
        return MarketStatus.REGULAR, MarketPeriod.OPENING
    if minute_of_day < hours.close_minute - _CLOSING_MINUTES:
        return MarketStatus.REGULAR, MarketPeriod.MIDDAY
    return MarketStatus.REGULAR, MarketPeriod.CLOSING


class MarketClock:
    """Market session per event time, memoised per UTC minute for the 100k ticks/s hot path.

    A zoneinfo conversion costs microseconds; ticks of one minute all share one `MarketSession`, so
    the clock keeps the last minute's session (the common case: ticks arrive in time order) plus a
    bounded map of recently seen minutes (ticks of many symbols interleave around a minute boundary).
    The result is exact, not an approximation, because every session boundary is a whole ET minute.
    Pure: the time comes only from the argument, never from the wall clock, and the trading days come
    from the calendar table passed in.
    """

    __slots__ = ("_by_minute", "_calendar", "_last_minute", "_last_session", "_max_minutes")

    def __init__(self, calendar: MarketCalendar = _WEEKDAYS, *, max_minutes: int = 4096) -> None:
        """Create an empty clock.

        Args:
            calendar: Trading days and hours; by default every weekday is a full day.
            max_minutes: Distinct UTC minutes remembered before the map is cleared (bounds memory).
        """
        self._calendar = calendar
        self._max_minutes = max_minutes
        self._by_minute: dict[int, MarketSession] = {}
        self._last_minute = -1
        self._last_session: MarketSession | None = None

    def session_at(self, ts_ns: int) -> MarketSession:
        """Return the market session of an event time.

        Args:
            ts_ns: Event time, UTC epoch nanoseconds.
        """
        minute = ts_ns // NS_PER_MINUTE
        session = self._last_session
        if minute == self._last_minute and session is not None:
            return session
        session = self._by_minute.get(minute)
        if session is None:
            if len(self._by_minute) >= self._max_minutes:
                self._by_minute.clear()
            session = _session_for_minute(minute, self._calendar)
            self._by_minute[minute] = session
        self._last_minute = minute
        self._last_session = session
        return session
