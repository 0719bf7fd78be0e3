"""Conversions of `market_data_service.proto`: GetBars requests validated, bars, page tokens."""

from __future__ import annotations

from typing import cast

from tickstock.v1 import market_data_service_pb2
from tickstock_server.api.mappers._common import (
    decode_page_token,
    encode_page_token,
    request_binding,
    timestamp_from_ns,
)
from tickstock_server.domain.bar import Bar
from tickstock_server.domain.bar_intervals import BarInterval
from tickstock_server.domain.symbols import is_symbol
from tickstock_server.errors import FieldViolation, InvalidRequestError
from tickstock_server.support.time_units import NS_PER_S

DEFAULT_PAGE_SIZE = 1000

_INTERVALS = {
    market_data_service_pb2.BAR_INTERVAL_1_MINUTE: BarInterval.MINUTE_1,
    market_data_service_pb2.BAR_INTERVAL_5_MINUTES: BarInterval.MINUTE_5,
    market_data_service_pb2.BAR_INTERVAL_15_MINUTES: BarInterval.MINUTE_15,
    market_data_service_pb2.BAR_INTERVAL_1_HOUR: BarInterval.HOUR_1,
    market_data_service_pb2.BAR_INTERVAL_1_DAY: BarInterval.DAY_1,
}
_MAX_TIME_S = 4_102_444_800
"""2100-01-01 UTC: times must be before it (and from 1970), so nanoseconds stay within 64 bits."""


def bar_to_proto(bar: Bar) -> market_data_service_pb2.Bar:
    """A bar to its proto."""
    return market_data_service_pb2.Bar(
        symbol=bar.symbol,
        start_time=timestamp_from_ns(bar.start_ns),
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=bar.volume,
    )


def parse_get_bars(request: market_data_service_pb2.GetBarsRequest) -> tuple[str, BarInterval, int]:
    """Symbol, interval and page size of a valid request; raise InvalidRequestError with every bad field."""
    violations: list[FieldViolation] = []
    symbol = request.symbol.strip().upper()
    if not is_symbol(symbol):
        violations.append(FieldViolation("symbol", f"{request.symbol[:32]!r} is not a ticker symbol"))
    interval = _INTERVALS.get(request.interval)
    if interval is None:
        violations.append(FieldViolation("interval", "must be a specific bar interval"))
    page_size = request.page_size or DEFAULT_PAGE_SIZE  # at most 10,000 by the proto's rules
    times = {name: getattr(request, name) for name in ("start_time", "end_time") if request.HasField(name)}
    # The proto's rules bound the times to 1970-2099; a Timestamp's nanos must be in range too.
    for name, value in times.items():
        if not 0 <= value.nanos < NS_PER_S:
            violations.append(FieldViolation(name, "must be a time from 1970 to 2099"))
    if (
        not violations
        and len(times) == 2
        and times["start_time"].ToNanoseconds() >= times["end_time"].ToNanoseconds()
    ):
        violations.append(FieldViolation("start_time", "must be before end_time"))
    if violations or interval is None:
        raise InvalidRequestError(violations)
    return symbol, interval, page_size


def bars_page_token(
    request: market_data_service_pb2.GetBarsRequest, start_ns: int, end_ns: int, after_ns: int
) -> str:
    """The token of the page after the bar starting at `after_ns`, within the resolved range."""
    return encode_page_token(request_binding(request), (start_ns, end_ns, after_ns))


def bars_page_cursor(request: market_data_service_pb2.GetBarsRequest) -> tuple[int, int, int]:
    """Range start, range end and the last bar's start (UTC epoch ns) of the request's page token."""
    cursor = decode_page_token(request.page_token, request_binding(request), (int, int, int))
    times = cast(tuple[int, int, int], cursor)  # the shape is checked
    if not all(0 <= value <= _MAX_TIME_S * NS_PER_S for value in times):
        raise InvalidRequestError([FieldViolation("page_token", "must hold times from 1970 to 2099")])
    return times
