"""MarketDataService servicer: validates GetBars, reads bars, maps them. No business rules."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass

from tickstock.v1 import market_data_service_pb2
from tickstock_server.api.interceptors import Context
from tickstock_server.api.mappers import bar_to_proto
from tickstock_server.domain.bar_intervals import BarInterval
from tickstock_server.domain.symbols import is_symbol
from tickstock_server.errors import FieldViolation, InvalidRequestError
from tickstock_server.ports import BarReader
from tickstock_server.support.time_units import NS_PER_MINUTE, NS_PER_S

DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 10_000

_INTERVALS = {
    market_data_service_pb2.BAR_INTERVAL_1_MINUTE: BarInterval.MINUTE_1,
    market_data_service_pb2.BAR_INTERVAL_5_MINUTES: BarInterval.MINUTE_5,
    market_data_service_pb2.BAR_INTERVAL_15_MINUTES: BarInterval.MINUTE_15,
    market_data_service_pb2.BAR_INTERVAL_1_HOUR: BarInterval.HOUR_1,
    market_data_service_pb2.BAR_INTERVAL_1_DAY: BarInterval.DAY_1,
}
_MAX_TIME_S = 4_102_444_800
"""2100-01-01 UTC: times must be before it (and from 1970), so nanoseconds stay within 64 bits."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _BarsQuery:
    symbol: str
    interval: BarInterval
    start_ns: int
    end_ns: int
    page_size: int
    after_ns: int | None


def _token(query: _BarsQuery, after_ns: int) -> str:
    body = {
        "s": query.symbol,
        "i": query.interval.value,
        "a": query.start_ns,
        "b": query.end_ns,
        "n": after_ns,
    }
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


def _validate(request: market_data_service_pb2.GetBarsRequest) -> tuple[str, BarInterval, int]:
    violations: list[FieldViolation] = []
    symbol = request.symbol.strip().upper()
    if not is_symbol(symbol):
        violations.append(FieldViolation("symbol", f"{request.symbol[:32]!r} is not a ticker symbol"))
    interval = _INTERVALS.get(request.interval)
    if interval is None:
        violations.append(FieldViolation("interval", "must be a specific bar interval"))
    page_size = request.page_size or DEFAULT_PAGE_SIZE
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        violations.append(FieldViolation("page_size", f"must be between 1 and {MAX_PAGE_SIZE}"))
    times = {name: getattr(request, name) for name in ("start_time", "end_time") if request.HasField(name)}
    for name, value in times.items():
        if not (0 <= value.seconds < _MAX_TIME_S and 0 <= value.nanos < NS_PER_S):
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


def _token_body(
    request: market_data_service_pb2.GetBarsRequest, symbol: str, interval: BarInterval
) -> dict[str, int]:
    """The range and position a page token carries, checked against the request it comes with."""
    try:
        body = json.loads(base64.urlsafe_b64decode(request.page_token.encode()))
        if (body["s"], body["i"]) != (symbol, interval.value):
            raise ValueError("the token is for another symbol or interval")
        if not all(
            type(body[key]) is int and 0 <= body[key] <= _MAX_TIME_S * NS_PER_S for key in ("a", "b", "n")
        ):
            raise ValueError("malformed token")
        if request.HasField("start_time") and request.start_time.ToNanoseconds() != body["a"]:
            raise ValueError("the token is for another range")
        if request.HasField("end_time") and request.end_time.ToNanoseconds() != body["b"]:
            raise ValueError("the token is for another range")
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidRequestError(
            [FieldViolation("page_token", "not a token of this request's symbol, interval and range")]
        ) from exc
    return {"a": body["a"], "b": body["b"], "n": body["n"]}


class MarketDataServiceServicer:
    """Serves `tickstock.v1.MarketDataService`.

    A request without `end_time` means "up to the newest data held", never the wall clock: the range
    ends after the symbol's newest one-minute bar (stored or still in memory), or at the market clock
    when the symbol has no bar yet. So the latest page of bars shows at any hour, weekends included.
    """

    def __init__(self, *, bars: BarReader, market_clock_ns: Callable[[], int]) -> None:
        """Serve bars from `bars`.

        Args:
            bars: Stored and not yet stored bars.
            market_clock_ns: The market's "now", UTC epoch ns: the feed's newest event time (the wall
                clock only before the first tick).
        """
        self._bars = bars
        self._market_clock_ns = market_clock_ns

    async def _query(self, request: market_data_service_pb2.GetBarsRequest) -> _BarsQuery:
        symbol, interval, page_size = _validate(request)
        if request.page_token:
            body = _token_body(request, symbol, interval)
            return _BarsQuery(
                symbol=symbol,
                interval=interval,
                start_ns=body["a"],
                end_ns=body["b"],
                page_size=page_size,
                after_ns=body["n"],
            )
        start_ns = request.start_time.ToNanoseconds() if request.HasField("start_time") else None
        if request.HasField("end_time"):
            end_ns = request.end_time.ToNanoseconds()
        else:
            newest_ns = await self._bars.newest_bar_ns(symbol)
            end_ns = newest_ns + NS_PER_MINUTE if newest_ns is not None else self._market_clock_ns()
            if start_ns is not None:
                end_ns = max(end_ns, start_ns + 1)
        if start_ns is None:  # by default, one page of bars up to the end
            start_ns = end_ns - page_size * interval.seconds * NS_PER_S
        return _BarsQuery(
            symbol=symbol,
            interval=interval,
            start_ns=start_ns,
            end_ns=end_ns,
            page_size=page_size,
            after_ns=None,
        )

    async def GetBars(  # noqa: N802 - gRPC method name
        self, request: market_data_service_pb2.GetBarsRequest, context: Context
    ) -> market_data_service_pb2.GetBarsResponse:
        """Bars of one symbol over a range, oldest first, stored and not yet stored alike."""
        query = await self._query(request)
        bars, more = await self._bars.get_bars(
            query.symbol,
            query.interval,
            query.start_ns,
            query.end_ns,
            limit=query.page_size,
            after_ns=query.after_ns,
        )
        return market_data_service_pb2.GetBarsResponse(
            bars=[bar_to_proto(bar) for bar in bars],
            next_page_token=_token(query, bars[-1].start_ns) if more and bars else "",
        )
