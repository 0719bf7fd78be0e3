"""Exchange calendars from the maintained `exchange-calendars` library, turned into plain tables."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import functools
import multiprocessing

from tickstock_server.domain.market_calendar import EASTERN, MarketCalendar, TradingHours

__all__ = ["xnys_calendar"]

_FIRST_DAY = dt.date(1990, 1, 1)
_YEARS_AHEAD = 3


@functools.cache
def xnys_calendar(first: dt.date = _FIRST_DAY, last: dt.date | None = None) -> MarketCalendar:
    """The New York Stock Exchange's trading days (holidays, early closes) as a `MarketCalendar`.

    Built once per process (about 1 s) so the detectors look dates up in a dict, never in pandas. The
    table is computed in a short-lived child process: the library pulls in pandas, about 60 MB that
    would otherwise stay in the long-running server for the one start-up step that needs it.

    Args:
        first: First date of the table.
        last: Last date of the table; None for the end of the year three years from today (the range
            only bounds the table: dates outside it fall back to full weekdays).
    """
    if last is None:
        last = dt.date(dt.date.today().year + _YEARS_AHEAD, 12, 31)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        days = pool.submit(_xnys_days, first, last).result()
    return MarketCalendar("XNYS", days, first=first, last=last)


def _xnys_days(first: dt.date, last: dt.date) -> dict[dt.date, TradingHours]:
    import exchange_calendars

    calendar = exchange_calendars.get_calendar("XNYS", start=first.isoformat(), end=last.isoformat())
    days: dict[dt.date, TradingHours] = {}
    for session, open_at, close_at in zip(
        calendar.sessions,
        calendar.opens.dt.tz_convert(EASTERN),
        calendar.closes.dt.tz_convert(EASTERN),
        strict=True,
    ):
        days[session.date()] = TradingHours(
            open_minute=open_at.hour * 60 + open_at.minute, close_minute=close_at.hour * 60 + close_at.minute
        )
    return days
