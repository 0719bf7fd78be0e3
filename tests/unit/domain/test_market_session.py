import datetime as dt

import pytest
from factories import NS_PER_S, ns_at
from hypothesis import given
from hypothesis import strategies as st

from tickstock_server.domain.events import MarketPeriod, MarketStatus
from tickstock_server.domain.market_session import MarketClock, market_session_at

PRE, REGULAR, AFTER, CLOSED = MarketStatus.PRE, MarketStatus.REGULAR, MarketStatus.AFTER, MarketStatus.CLOSED
P = MarketPeriod

# (UTC time, expected status, expected period). Winter = EST (UTC-5), summer = EDT (UTC-4).
SESSION_TABLE = [
    # Winter weekday, Tuesday 2026-01-06.
    ("2026-01-06T08:59:59", CLOSED, P.CLOSED),  # 03:59:59 ET
    ("2026-01-06T09:00:00", PRE, P.PREMARKET),  # 04:00 ET
    ("2026-01-06T14:29:59", PRE, P.PREMARKET),  # 09:29:59 ET
    ("2026-01-06T14:30:00", REGULAR, P.OPENING),  # 09:30 ET
    ("2026-01-06T14:44:59", REGULAR, P.OPENING),
    ("2026-01-06T14:45:00", REGULAR, P.MIDDAY),  # 09:45 ET
    ("2026-01-06T20:29:59", REGULAR, P.MIDDAY),
    ("2026-01-06T20:30:00", REGULAR, P.CLOSING),  # 15:30 ET
    ("2026-01-06T20:59:59", REGULAR, P.CLOSING),
    ("2026-01-06T21:00:00", AFTER, P.AFTERHOURS),  # 16:00 ET
    ("2026-01-07T00:59:59", AFTER, P.AFTERHOURS),  # 19:59:59 ET on the 6th
    ("2026-01-07T01:00:00", CLOSED, P.CLOSED),  # 20:00 ET on the 6th
    # Summer weekday, Tuesday 2026-07-07: the same ET times are an hour earlier in UTC.
    ("2026-07-07T13:29:59", PRE, P.PREMARKET),
    ("2026-07-07T13:30:00", REGULAR, P.OPENING),
    ("2026-07-07T19:59:59", REGULAR, P.CLOSING),
    ("2026-07-07T20:00:00", AFTER, P.AFTERHOURS),
    # DST starts Sunday 2026-03-08: Friday opens at 14:30 UTC, Monday at 13:30 UTC.
    ("2026-03-06T13:30:00", PRE, P.PREMARKET),
    ("2026-03-06T14:30:00", REGULAR, P.OPENING),
    ("2026-03-09T13:29:59", PRE, P.PREMARKET),
    ("2026-03-09T13:30:00", REGULAR, P.OPENING),
    # DST ends Sunday 2026-11-01: Friday opens at 13:30 UTC, Monday at 14:30 UTC.
    ("2026-10-30T13:30:00", REGULAR, P.OPENING),
    ("2026-11-02T13:30:00", PRE, P.PREMARKET),
    ("2026-11-02T14:29:59", PRE, P.PREMARKET),
    ("2026-11-02T14:30:00", REGULAR, P.OPENING),
    # Weekends are closed all day, including the DST change days.
    ("2026-01-10T15:00:00", CLOSED, P.CLOSED),  # Saturday 10:00 ET
    ("2026-03-08T15:00:00", CLOSED, P.CLOSED),  # Sunday
    ("2026-11-01T15:00:00", CLOSED, P.CLOSED),  # Sunday
]


@pytest.mark.parametrize(("utc", "status", "period"), SESSION_TABLE)
def test_event_time_maps_to_status_and_period(utc: str, status: MarketStatus, period: MarketPeriod) -> None:
    # Arrange
    ts_ns = ns_at(utc)

    # Act
    session = market_session_at(ts_ns)

    # Assert
    assert (session.status, session.period) == (status, period)


@pytest.mark.parametrize(("utc", "status", "period"), SESSION_TABLE)
def test_clock_matches_uncached_computation(utc: str, status: MarketStatus, period: MarketPeriod) -> None:
    clock = MarketClock()

    session = clock.session_at(ns_at(utc) + 999_999_999)

    assert (session.status, session.period) == (status, period)


def test_evening_after_utc_midnight_keeps_eastern_trading_date() -> None:
    session = market_session_at(ns_at("2026-01-07T00:30:00"))  # 19:30 ET on the 6th

    assert session.trading_date == dt.date(2026, 1, 6)
    assert session.minute_of_day == 19 * 60 + 30


def test_same_date_and_status_share_session_key() -> None:
    morning = market_session_at(ns_at("2026-01-06T14:31:00"))
    afternoon = market_session_at(ns_at("2026-01-06T20:45:00"))

    assert morning.key == afternoon.key


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("2026-01-06T14:29:59", "2026-01-06T14:30:00"),  # PRE -> REGULAR
        ("2026-01-06T20:59:59", "2026-01-06T21:00:00"),  # REGULAR -> AFTER
        ("2026-01-06T15:00:00", "2026-01-07T15:00:00"),  # REGULAR on two days
    ],
)
def test_status_or_date_change_changes_session_key(first: str, second: str) -> None:
    before = market_session_at(ns_at(first))
    after = market_session_at(ns_at(second))

    assert before.key != after.key


@given(st.lists(st.integers(min_value=ns_at("2025-01-01T00:00:00"), max_value=ns_at("2028-01-01T00:00:00"))))
def test_clock_in_any_order_equals_uncached_computation(times_ns: list[int]) -> None:
    clock = MarketClock(max_minutes=4)

    sessions = [clock.session_at(ts_ns) for ts_ns in times_ns]

    assert sessions == [market_session_at(ts_ns) for ts_ns in times_ns]


def test_ticks_within_one_minute_share_one_session_object() -> None:
    clock = MarketClock()
    start_ns = ns_at("2026-01-06T15:00:00")

    sessions = {id(clock.session_at(start_ns + offset_s * NS_PER_S)) for offset_s in range(60)}

    assert len(sessions) == 1
