"""Conversions between the domain's UTC epoch nanoseconds and the timezone-aware datetimes asyncpg uses."""

from __future__ import annotations

import datetime as dt

from tickstock_server.support.time_units import NS_PER_US

__all__ = ["datetime_from_ns", "ns_from_datetime"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def datetime_from_ns(ts_ns: int) -> dt.datetime:
    """UTC epoch nanoseconds to an aware UTC datetime (PostgreSQL keeps microseconds: the rest is floored)."""
    return _EPOCH + dt.timedelta(microseconds=ts_ns // NS_PER_US)


def ns_from_datetime(moment: dt.datetime) -> int:
    """An aware datetime to UTC epoch nanoseconds, in integer arithmetic (a float would lose microseconds)."""
    return (moment - _EPOCH) // _MICROSECOND * NS_PER_US
