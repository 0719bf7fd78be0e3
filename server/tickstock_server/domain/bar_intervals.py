"""Bar intervals and the pure bucketing of one-minute bars into wider bars."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Iterable

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.market_session import EASTERN
from tickstock_server.support.time_units import NS_PER_S

__all__ = ["BarInterval", "bucket_start_ns", "merge_into_buckets"]


class BarInterval(enum.Enum):
    """Width of a bar.

    Minute-based widths align to UTC (and so to US/Eastern) clock boundaries; a day is the US/Eastern
    calendar day, the trading day of US equities.
    """

    MINUTE_1 = 60
    MINUTE_5 = 300
    MINUTE_15 = 900
    HOUR_1 = 3600
    DAY_1 = 86400

    @property
    def seconds(self) -> int:
        """Nominal width, seconds (a DST day is 23 or 25 hours long)."""
        return self.value


def bucket_start_ns(ts_ns: int, interval: BarInterval) -> int:
    """Start of the bar of `interval` that contains `ts_ns` (UTC epoch ns)."""
    if interval is not BarInterval.DAY_1:
        width_ns = interval.seconds * NS_PER_S
        return ts_ns - ts_ns % width_ns
    local = dt.datetime.fromtimestamp(ts_ns // NS_PER_S, tz=EASTERN)
    midnight = dt.datetime.combine(local.date(), dt.time(0), tzinfo=EASTERN)
    return int(midnight.timestamp()) * NS_PER_S


def merge_into_buckets(bars: Iterable[Bar], interval: BarInterval) -> list[Bar]:
    """Combine bars of one symbol, in time order and non-overlapping, into bars of `interval`.

    Open of the first, close of the last, highest high, lowest low, summed volume and ticks. Also merges
    two partial bars of the same bucket (one from storage, one from memory) the same way.
    """
    merged: list[Bar] = []
    for bar in bars:
        start_ns = bucket_start_ns(bar.start_ns, interval)
        if merged and merged[-1].start_ns == start_ns:
            last = merged[-1]
            merged[-1] = Bar(
                symbol=last.symbol,
                start_ns=start_ns,
                open=last.open,
                high=max(last.high, bar.high),
                low=min(last.low, bar.low),
                close=bar.close,
                volume=last.volume + bar.volume,
                ticks=last.ticks + bar.ticks,
            )
        else:
            merged.append(dataclasses.replace(bar, start_ns=start_ns))
    return merged
