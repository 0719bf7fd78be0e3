"""`Client`: the `AsyncClient` for code without an event loop.

Each client runs its own event loop in a background thread; every method blocks until the call is
done, and `stream_events` returns a plain iterator.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Awaitable, Iterator
from concurrent.futures import Future
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

import grpc

from tickstock_client._backtest_models import Backtest, BacktestParameters
from tickstock_client._client import DEFAULT_TARGET, AsyncClient
from tickstock_client._models import (
    Bar,
    BarInterval,
    EventFilter,
    FilterPreset,
    Pattern,
    PatternFilter,
    PatternSort,
    ResumeToken,
    SessionToken,
    StreamItem,
    Symbol,
    Universe,
    Watchlist,
)
from tickstock_client._pattern_models import AlertItem, AlertSubscription, PatternStats
from tickstock_client._streaming import EventStream

__all__ = ["Client", "SyncEventStream"]

_T = TypeVar("_T")


class SyncEventStream:
    """`for item in stream`: the resumable event stream, blocking."""

    def __init__(self, stream: EventStream, run: Any) -> None:
        self._stream = stream
        self._run = run
        self._items = stream.__aiter__()

    @property
    def resume_token(self) -> ResumeToken | None:
        """Where the stream stands: persist it to continue after your program restarts."""
        return self._stream.resume_token

    def close(self) -> None:
        """End the iteration."""
        self._run(self._aclose())

    async def _aclose(self) -> None:
        self._stream.close()

    def __iter__(self) -> Iterator[StreamItem]:
        while True:
            try:
                yield self._run(anext(self._items))
            except StopAsyncIteration:
                return


class Client:
    """A blocking connection to a TickStock server; `with Client(target, api_key=key) as client:`."""

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        api_key: str,
        credentials: grpc.ChannelCredentials | None = None,
        timeout: timedelta = timedelta(seconds=15),
    ) -> None:
        """Connect lazily to `target`; see `AsyncClient`."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tickstock-client", daemon=True)
        self._thread.start()
        self._client: AsyncClient = self._run(_create(target, api_key, credentials, call_timeout=timeout))

    def __repr__(self) -> str:
        return "Client(<credentials hidden>)"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, awaitable: Awaitable[_T]) -> _T:
        future: Future[_T] = asyncio.run_coroutine_threadsafe(_await(awaitable), self._loop)
        return future.result()

    def close(self) -> None:
        """Close the channel and stop the client's thread."""
        if self._loop.is_closed():
            return
        self._run(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def create_session_token(self, ttl: timedelta | None = None) -> SessionToken:
        """See `AsyncClient.create_session_token`."""
        return self._run(self._client.create_session_token(ttl))

    def stream_events(
        self,
        event_filter: EventFilter | None = None,
        *,
        preset_name: str = "",
        resume_token: ResumeToken | None = None,
        heartbeat_interval: timedelta = timedelta(seconds=5),
    ) -> SyncEventStream:
        """See `AsyncClient.stream_events`."""
        stream = self._client.stream_events(
            event_filter,
            preset_name=preset_name,
            resume_token=resume_token,
            heartbeat_interval=heartbeat_interval,
        )
        return SyncEventStream(stream, self._run)

    def get_bars(
        self,
        symbol: str,
        interval: BarInterval = BarInterval.ONE_MINUTE,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Bar]:
        """See `AsyncClient.get_bars`."""
        return self._run(self._client.get_bars(symbol, interval, start=start, end=end))

    def list_symbols(self, query: str = "", *, market: str = "", type: str = "") -> list[Symbol]:
        """Every matching symbol (all pages); see `AsyncClient.list_symbols`."""
        return self._run(_collect(self._client.list_symbols(query, market=market, type=type)))

    def get_symbol(self, symbol: str) -> Symbol:
        """See `AsyncClient.get_symbol`."""
        return self._run(self._client.get_symbol(symbol))

    def list_universes(self) -> list[Universe]:
        """See `AsyncClient.list_universes`."""
        return self._run(self._client.list_universes())

    def get_universe(self, name: str) -> Universe:
        """See `AsyncClient.get_universe`."""
        return self._run(self._client.get_universe(name))

    def create_watchlist(self, name: str, symbols: tuple[str, ...] | list[str] = ()) -> Watchlist:
        """See `AsyncClient.create_watchlist`."""
        return self._run(self._client.create_watchlist(name, symbols))

    def list_watchlists(self) -> list[Watchlist]:
        """See `AsyncClient.list_watchlists`."""
        return self._run(self._client.list_watchlists())

    def get_watchlist(self, watchlist_id: str) -> Watchlist:
        """See `AsyncClient.get_watchlist`."""
        return self._run(self._client.get_watchlist(watchlist_id))

    def update_watchlist(
        self,
        watchlist_id: str,
        *,
        name: str | None = None,
        symbols: tuple[str, ...] | list[str] | None = None,
    ) -> Watchlist:
        """See `AsyncClient.update_watchlist`."""
        return self._run(self._client.update_watchlist(watchlist_id, name=name, symbols=symbols))

    def delete_watchlist(self, watchlist_id: str) -> None:
        """See `AsyncClient.delete_watchlist`."""
        self._run(self._client.delete_watchlist(watchlist_id))

    def scan_patterns(
        self,
        pattern_filter: PatternFilter | None = None,
        *,
        sort_by: PatternSort = PatternSort.CONFIDENCE,
        descending: bool = True,
    ) -> list[Pattern]:
        """Every pattern the filter selects (all pages); see `AsyncClient.scan_patterns`."""
        return self._run(
            _collect(self._client.scan_patterns(pattern_filter, sort_by=sort_by, descending=descending))
        )

    def stream_patterns(self, pattern_filter: PatternFilter | None = None) -> Iterator[Pattern]:
        """See `AsyncClient.stream_patterns`; stop iterating to end it."""
        return self._iterate(self._client.stream_patterns(pattern_filter))

    def get_pattern_stats(self) -> PatternStats:
        """See `AsyncClient.get_pattern_stats`."""
        return self._run(self._client.get_pattern_stats())

    def create_alert_subscription(
        self,
        *,
        pattern_types: tuple[str, ...] | list[str] = (),
        symbols: tuple[str, ...] | list[str] = (),
        universes: tuple[str, ...] | list[str] = (),
        min_confidence: float = 0.0,
        quiet_hours: tuple[time, time] | None = None,
        time_zone: str = "UTC",
        max_alerts_per_hour: int | None = None,
    ) -> AlertSubscription:
        """See `AsyncClient.create_alert_subscription`."""
        return self._run(
            self._client.create_alert_subscription(
                pattern_types=pattern_types,
                symbols=symbols,
                universes=universes,
                min_confidence=min_confidence,
                quiet_hours=quiet_hours,
                time_zone=time_zone,
                max_alerts_per_hour=max_alerts_per_hour,
            )
        )

    def list_alert_subscriptions(self) -> list[AlertSubscription]:
        """See `AsyncClient.list_alert_subscriptions`."""
        return self._run(self._client.list_alert_subscriptions())

    def delete_alert_subscription(self, subscription_id: str) -> None:
        """See `AsyncClient.delete_alert_subscription`."""
        self._run(self._client.delete_alert_subscription(subscription_id))

    def stream_alerts(self, *, heartbeat_interval: timedelta = timedelta(seconds=5)) -> Iterator[AlertItem]:
        """See `AsyncClient.stream_alerts`; stop iterating to end it."""
        return self._iterate(self._client.stream_alerts(heartbeat_interval=heartbeat_interval))

    def submit_backtest(
        self,
        symbols: tuple[str, ...] | list[str],
        start: date,
        end: date,
        patterns: tuple[str, ...] | list[str],
        parameters: BacktestParameters | None = None,
    ) -> Backtest:
        """See `AsyncClient.submit_backtest`."""
        return self._run(self._client.submit_backtest(symbols, start, end, patterns, parameters))

    def get_backtest(self, backtest_id: str) -> Backtest:
        """See `AsyncClient.get_backtest`."""
        return self._run(self._client.get_backtest(backtest_id))

    def list_backtests(self) -> list[Backtest]:
        """Every backtest of this user (all pages); see `AsyncClient.list_backtests`."""
        return self._run(_collect(self._client.list_backtests()))

    def cancel_backtest(self, backtest_id: str) -> Backtest:
        """See `AsyncClient.cancel_backtest`."""
        return self._run(self._client.cancel_backtest(backtest_id))

    def watch_backtest(self, backtest_id: str) -> Iterator[Backtest]:
        """See `AsyncClient.watch_backtest`; the iteration ends after a final state."""
        return self._iterate(self._client.watch_backtest(backtest_id))

    def save_filter_preset(self, name: str, event_filter: EventFilter) -> FilterPreset:
        """See `AsyncClient.save_filter_preset`."""
        return self._run(self._client.save_filter_preset(name, event_filter))

    def list_filter_presets(self) -> list[FilterPreset]:
        """See `AsyncClient.list_filter_presets`."""
        return self._run(self._client.list_filter_presets())

    def delete_filter_preset(self, name: str) -> None:
        """See `AsyncClient.delete_filter_preset`."""
        self._run(self._client.delete_filter_preset(name))

    def health(self, service: str = "") -> str:
        """See `AsyncClient.health`."""
        return self._run(self._client.health(service))

    def _iterate(self, items: AsyncGenerator[_T, None]) -> Iterator[_T]:
        """`items` as a blocking iterator; closing it (or dropping it) closes `items` on the loop."""
        try:
            while True:
                try:
                    item = self._run(anext(items))
                except StopAsyncIteration:
                    return
                yield item
        finally:
            self._run(items.aclose())


async def _create(
    target: str, api_key: str, credentials: grpc.ChannelCredentials | None, *, call_timeout: timedelta
) -> AsyncClient:
    # Created on the client's own loop: grpc.aio channels belong to the loop they are made on.
    return AsyncClient(target, api_key=api_key, credentials=credentials, timeout=call_timeout)


async def _await(awaitable: Awaitable[_T]) -> _T:
    return await awaitable


async def _collect(items: Any) -> list[Any]:
    return [item async for item in items]
