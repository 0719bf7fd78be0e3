"""MarketDataService servicer: validates GetBars, reads bars, maps them. No business rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tickstock.v1 import market_data_service_pb2
from tickstock_server.api.interceptors import Context
from tickstock_server.api.mappers.market_data_service import (
    bar_to_proto,
    bars_page_cursor,
    bars_page_token,
    parse_get_bars,
)
from tickstock_server.domain.bar_intervals import BarInterval
from tickstock_server.ports.bars import BarReader
from tickstock_server.support.time_units import NS_PER_MINUTE, NS_PER_S


@dataclass(frozen=True, slots=True, kw_only=True)
class _BarsQuery:
    symbol: str
    interval: BarInterval
    start_ns: int
    end_ns: int
    page_size: int
    after_ns: int | None


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
        symbol, interval, page_size = parse_get_bars(request)
        if request.page_token:
            first_ns, last_ns, after_ns = bars_page_cursor(request)
            return _BarsQuery(
                symbol=symbol,
                interval=interval,
                start_ns=first_ns,
                end_ns=last_ns,
                page_size=page_size,
                after_ns=after_ns,
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
        token = ""
        if more and bars:
            token = bars_page_token(request, query.start_ns, query.end_ns, bars[-1].start_ns)
        return market_data_service_pb2.GetBarsResponse(
            bars=[bar_to_proto(bar) for bar in bars], next_page_token=token
        )
