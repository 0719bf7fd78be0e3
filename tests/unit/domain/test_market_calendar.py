"""Golden tests of the XNYS calendar: holidays, early closes and DST days in UTC, as detectors see them."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import make_tick, ns_at

from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.domain.events import MarketPeriod, MarketStatus
from tickstock_server.domain.market_calendar import MarketCalendar, TradingHours
from tickstock_server.domain.market_session import MarketClock, market_session_at
from tickstock_server.market_calendars import xnys_calendar

PRE, REGULAR, AFTER, CLOSED = MarketStatus.PRE, MarketStatus.REGULAR, MarketStatus.AFTER, MarketStatus.CLOSED
P = MarketPeriod

XNYS = xnys_calendar()

# NYSE's full-day closures in 2026, as the exchange published them.
HOLIDAYS_2026 = {
    dt.date(2026, 1, 1),  # New Year's Day
    dt.date(2026, 1, 19),  # Martin Luther King Jr. Day
    dt.date(2026, 2, 16),  # Washington's Birthday
    dt.date(2026, 4, 3),  # Good Friday
    dt.date(2026, 5, 25),  # Memorial Day
    dt.date(2026, 6, 19),  # Juneteenth
    dt.date(2026, 7, 3),  # Independence Day, observed on the Friday
    dt.date(2026, 9, 7),  # Labor Day
    dt.date(2026, 11, 26),  # Thanksgiving
    dt.date(2026, 12, 25),  # Christmas
}

# (UTC time, status, period). EST is UTC-5, EDT UTC-4.
GOLDEN = [
    # Holiday: Friday 2026-07-03 is closed at every hour, where a plain weekday would trade.
    ("2026-07-03T08:00:00", CLOSED, P.CLOSED),  # 04:00 EDT
    ("2026-07-03T14:00:00", CLOSED, P.CLOSED),  # 10:00 EDT
    ("2026-07-03T21:00:00", CLOSED, P.CLOSED),  # 17:00 EDT
    ("2026-07-02T19:59:00", REGULAR, P.CLOSING),  # the Thursday before is a full day
    # Early close: Friday 2026-11-27 (after Thanksgiving) closes at 13:00 EST.
    ("2026-11-27T14:30:00", REGULAR, P.OPENING),  # 09:30
    ("2026-11-27T17:29:00", REGULAR, P.MIDDAY),  # 12:29
    ("2026-11-27T17:30:00", REGULAR, P.CLOSING),  # 12:30
    ("2026-11-27T17:59:00", REGULAR, P.CLOSING),  # 12:59
    ("2026-11-27T18:00:00", AFTER, P.AFTERHOURS),  # 13:00
    ("2026-11-27T21:59:00", AFTER, P.AFTERHOURS),  # 16:59
    ("2026-11-27T22:00:00", CLOSED, P.CLOSED),  # 17:00
    ("2026-12-24T17:30:00", REGULAR, P.CLOSING),  # Christmas Eve closes at 13:00 too
    ("2026-12-24T18:00:00", AFTER, P.AFTERHOURS),
    # DST starts Sunday 2026-03-08 (closed, at 02:00 and at 10:00 local).
    ("2026-03-08T07:00:00", CLOSED, P.CLOSED),  # 02:00 EST, the instant clocks jump
    ("2026-03-08T14:00:00", CLOSED, P.CLOSED),  # 10:00 EDT
    ("2026-03-06T08:59:00", CLOSED, P.CLOSED),  # Friday 03:59 EST
    ("2026-03-06T09:00:00", PRE, P.PREMARKET),  # Friday 04:00 EST
    ("2026-03-06T14:30:00", REGULAR, P.OPENING),  # Friday 09:30 EST
    ("2026-03-06T21:00:00", AFTER, P.AFTERHOURS),  # Friday 16:00 EST
    ("2026-03-07T00:59:00", AFTER, P.AFTERHOURS),  # Friday 19:59 EST
    ("2026-03-07T01:00:00", CLOSED, P.CLOSED),  # Friday 20:00 EST
    ("2026-03-09T07:59:00", CLOSED, P.CLOSED),  # Monday 03:59 EDT
    ("2026-03-09T08:00:00", PRE, P.PREMARKET),  # Monday 04:00 EDT
    ("2026-03-09T13:30:00", REGULAR, P.OPENING),  # Monday 09:30 EDT
    ("2026-03-09T20:00:00", AFTER, P.AFTERHOURS),  # Monday 16:00 EDT
    ("2026-03-10T00:00:00", CLOSED, P.CLOSED),  # Monday 20:00 EDT
    # DST ends Sunday 2026-11-01 (closed, at 02:00 and at 10:00 local).
    ("2026-11-01T06:00:00", CLOSED, P.CLOSED),  # 01:00 EST, after the repeated hour
    ("2026-11-01T15:00:00", CLOSED, P.CLOSED),  # 10:00 EST
    ("2026-10-30T13:30:00", REGULAR, P.OPENING),  # Friday 09:30 EDT
    ("2026-10-30T20:00:00", AFTER, P.AFTERHOURS),  # Friday 16:00 EDT
    ("2026-11-02T08:59:00", CLOSED, P.CLOSED),  # Monday 03:59 EST
    ("2026-11-02T09:00:00", PRE, P.PREMARKET),  # Monday 04:00 EST
    ("2026-11-02T14:29:00", PRE, P.PREMARKET),  # Monday 09:29 EST
    ("2026-11-02T14:30:00", REGULAR, P.OPENING),  # Monday 09:30 EST
    ("2026-11-02T21:00:00", AFTER, P.AFTERHOURS),  # Monday 16:00 EST
]


@pytest.mark.parametrize(("utc", "status", "period"), GOLDEN)
def test_xnys_session_of_an_event_time(utc: str, status: MarketStatus, period: MarketPeriod) -> None:
    session = market_session_at(ns_at(utc), XNYS)

    assert (session.status, session.period) == (status, period)


@pytest.mark.parametrize(("utc", "status", "period"), GOLDEN)
def test_cached_clock_agrees_with_the_uncached_session(
    utc: str, status: MarketStatus, period: MarketPeriod
) -> None:
    clock = MarketClock(XNYS)

    session = clock.session_at(ns_at(utc) + 59_999_999_999)

    assert (session.status, session.period) == (status, period)


def test_2026_closures_are_exactly_the_published_holidays() -> None:
    weekdays = [dt.date(2026, 1, 1) + dt.timedelta(days=n) for n in range(365)]

    closed = {day for day in weekdays if day.weekday() < 5 and XNYS.hours_on(day) is None}

    assert closed == HOLIDAYS_2026


def test_2026_early_closes_are_the_day_after_thanksgiving_and_christmas_eve() -> None:
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=n) for n in range(365)]

    early = {day: XNYS.hours_on(day) for day in days if (hours := XNYS.hours_on(day)) and hours.early_close}

    assert early == {
        dt.date(2026, 11, 27): TradingHours(open_minute=570, close_minute=780),
        dt.date(2026, 12, 24): TradingHours(open_minute=570, close_minute=780),
    }


def test_weekday_calendar_trades_on_holidays() -> None:
    session = market_session_at(ns_at("2026-07-03T14:00:00"), MarketCalendar.every_weekday())

    assert (session.status, session.period) == (REGULAR, P.MIDDAY)


def test_dates_outside_the_table_fall_back_to_full_weekdays() -> None:
    calendar = MarketCalendar("T", {}, first=dt.date(2026, 1, 1), last=dt.date(2026, 12, 31))

    assert calendar.hours_on(dt.date(2026, 7, 6)) is None  # inside the table, no entry: closed
    assert calendar.hours_on(dt.date(2027, 7, 5)) == TradingHours(open_minute=570, close_minute=960)
    assert calendar.hours_on(dt.date(2027, 7, 3)) is None  # a Saturday


@pytest.mark.parametrize(
    ("now_utc", "expected_open_utc"),
    [
        ("2026-01-06T16:00:00", "2026-01-06T14:30:00"),  # Tuesday 11:00 ET: today's open
        ("2026-01-06T08:00:00", "2026-01-05T14:30:00"),  # Tuesday 03:00 ET: Monday's open
        ("2026-01-10T17:00:00", "2026-01-09T14:30:00"),  # Saturday 12:00 ET: Friday's open
        ("2026-01-12T01:00:00", "2026-01-09T14:30:00"),  # Sunday 20:00 ET: Friday's open
        ("2026-07-04T16:00:00", "2026-07-02T13:30:00"),  # Saturday after the Friday holiday: Thursday
        ("2026-07-03T14:00:00", "2026-07-02T13:30:00"),  # the holiday itself, 10:00 ET
        ("2026-11-27T17:45:00", "2026-11-27T14:30:00"),  # early-close day 12:45 ET: today's open
        ("2026-03-08T07:00:00", "2026-03-06T14:30:00"),  # DST Sunday 02:00: Friday 09:30 EST
        ("2026-03-09T14:00:00", "2026-03-09T13:30:00"),  # Monday after the DST change: 09:30 EDT
        ("2026-11-01T15:00:00", "2026-10-30T13:30:00"),  # DST-end Sunday 10:00: Friday 09:30 EDT
    ],
)
def test_latest_open_follows_the_calendar(now_utc: str, expected_open_utc: str) -> None:
    assert XNYS.latest_open_ns(ns_at(now_utc)) == ns_at(expected_open_utc)


@pytest.mark.parametrize(
    ("utc", "status"),
    [
        ("2026-07-03T14:00:00", CLOSED),  # holiday
        ("2026-11-27T17:45:00", REGULAR),  # early close, 12:45
        ("2026-11-27T18:30:00", AFTER),  # early close, 13:30
    ],
)
def test_detection_engine_sessions_follow_the_calendar(utc: str, status: MarketStatus) -> None:
    engine = DetectionEngine(calendar=XNYS)

    engine.process(make_tick(ts_ns=ns_at(utc)))

    assert [snapshot.market_status for snapshot in engine.snapshot()] == [status]
