"""SQL that buckets stored one-minute bars: plain PostgreSQL, or TimescaleDB's time_bucket and aggregate.

Every query takes $1 symbol, $2 and $3 the [start, end) range of minutes, $4 the bucket start to page
after, $5 the row limit and $6 the bucket width (unused by the day queries, which never get it), and
returns ``bucket, open, high, low, close, volume``, oldest bucket first.
"""

from __future__ import annotations

from tickstock_server.domain.bar_intervals import BarInterval

__all__ = ["bucketed_query"]

_ZONE = "America/New_York"

# Stored minutes bucketed in SQL; {first_open} and {last_close} pick the open of the first minute
# and the close of the last one by time.
_BUCKETED = """
SELECT bucket, {first_open} AS open, max(high) AS high, min(low) AS low, {last_close} AS close,
       sum(volume)::bigint AS volume
FROM (SELECT {bucket} AS bucket, ts, open, high, low, close, volume
      FROM ohlcv_1min WHERE symbol = $1 AND ts >= $2 AND ts < $3) AS minutes
WHERE bucket > $4
GROUP BY bucket ORDER BY bucket LIMIT $5
"""

# Plain PostgreSQL has no first/last aggregate: array_agg in time order instead.
_PLAIN_FIRST_LAST = {
    "first_open": "(array_agg(open ORDER BY ts))[1]",
    "last_close": "(array_agg(close ORDER BY ts DESC))[1]",
}
_PLAIN_DAY = f"(date_trunc('day', ts AT TIME ZONE '{_ZONE}') AT TIME ZONE '{_ZONE}')"
_PLAIN_MINUTES = "date_bin($6::interval, ts, TIMESTAMPTZ '2000-01-03 00:00:00+00')"

# TimescaleDB: time_bucket (origin 2000-01-03, as date_bin's above) and first/last.
_TIMESCALE_FIRST_LAST = {"first_open": "first(open, ts)", "last_close": "last(close, ts)"}
_TIMESCALE_DAY = f"time_bucket(INTERVAL '1 day', ts, '{_ZONE}')"
_TIMESCALE_MINUTES = "time_bucket($6::interval, ts)"

# The hourly continuous aggregate (real-time: it answers not yet materialised hours from ohlcv_1min).
# Only for ranges of whole hours, which it can answer exactly.
_AGGREGATE_HOURS = """
SELECT time_bucket($6::interval, bucket) AS bucket, open, high, low, close, volume::bigint AS volume
FROM ohlcv_1hour WHERE symbol = $1 AND bucket >= $2 AND bucket < $3 AND bucket > $4
ORDER BY bucket LIMIT $5
"""
# GROUP BY 1: a plain "bucket" there would name the aggregate's own column, not the day.
_AGGREGATE_DAYS = f"""
SELECT time_bucket(INTERVAL '1 day', bucket, '{_ZONE}') AS bucket, first(open, bucket) AS open,
       max(high) AS high, min(low) AS low, last(close, bucket) AS close, sum(volume)::bigint AS volume
FROM ohlcv_1hour WHERE symbol = $1 AND bucket >= $2 AND bucket < $3
GROUP BY 1 HAVING time_bucket(INTERVAL '1 day', bucket, '{_ZONE}') > $4
ORDER BY 1 LIMIT $5
"""


def bucketed_query(interval: BarInterval, *, timescale: bool, whole_hours: bool) -> str:
    """The query bucketing stored minutes into bars of `interval`.

    Args:
        interval: The bar width.
        timescale: ``ohlcv_1min`` is a hypertable with the ``ohlcv_1hour`` aggregate (migration 0002).
        whole_hours: The range's start and end are whole UTC hours, so hourly rows cover it exactly.
    """
    day = interval is BarInterval.DAY_1
    if not timescale:
        return _BUCKETED.format(bucket=_PLAIN_DAY if day else _PLAIN_MINUTES, **_PLAIN_FIRST_LAST)
    if whole_hours and day:
        return _AGGREGATE_DAYS
    if whole_hours and interval is BarInterval.HOUR_1:
        return _AGGREGATE_HOURS
    return _BUCKETED.format(bucket=_TIMESCALE_DAY if day else _TIMESCALE_MINUTES, **_TIMESCALE_FIRST_LAST)
