"""`AsyncClient`: one method per RPC of the TickStock API, typed arguments and results.

List methods page automatically; idempotent calls are retried after UNAVAILABLE (a restarting server);
every refusal raises a `TickstockError` subclass. `stream_events` returns an `EventStream` that
reconnects and resumes by itself. The pattern, preset, alert and backtest methods come from the mixins
in `_pattern_calls`, `_alert_calls` and `_backtest_calls`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf import duration_pb2, field_mask_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tickstock.v1 import (
    auth_service_pb2,
    auth_service_pb2_grpc,
    backtest_service_pb2_grpc,
    event_service_pb2_grpc,
    market_data_service_pb2,
    market_data_service_pb2_grpc,
    pattern_service_pb2_grpc,
    universe_service_pb2,
    universe_service_pb2_grpc,
)
from tickstock_client._alert_calls import AlertCalls
from tickstock_client._backtest_calls import BacktestCalls
from tickstock_client._errors import error_from_rpc
from tickstock_client._models import (
    Bar,
    BarInterval,
    EventFilter,
    ResumeToken,
    SessionToken,
    Symbol,
    Universe,
    Watchlist,
)
from tickstock_client._pattern_calls import PatternCalls
from tickstock_client._proto import (
    bar_from_proto,
    bar_interval_to_proto,
    datetime_from_proto,
    symbol_from_proto,
    timestamp_to_proto,
    universe_from_proto,
    watchlist_from_proto,
)
from tickstock_client._streaming import Backoff, EventStream

__all__ = ["DEFAULT_TARGET", "AsyncClient", "api_key_from_environment"]

DEFAULT_TARGET = "localhost:50051"
_T = TypeVar("_T")
_RETRIES = 3
# Keepalive pings notice a dead connection within ~40 s even on an idle stream; the server accepts
# pings every 10 s and more. Reconnects start after 250 ms (gRPC's default is 1 s) and back off to 10 s,
# like the streams' own backoff.
_CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 10_000),
)


def api_key_from_environment() -> str:
    """The API key from TICKSTOCK_API_KEY, or from the file TICKSTOCK_API_KEY_FILE names.

    Raises:
        ValueError: Neither is set, or the file is empty.
    """
    if key := os.environ.get("TICKSTOCK_API_KEY", "").strip():
        return key
    if path := os.environ.get("TICKSTOCK_API_KEY_FILE"):
        if key := Path(path).read_text().strip():
            return key
        raise ValueError(f"TICKSTOCK_API_KEY_FILE names an empty file: {path}")
    raise ValueError("set TICKSTOCK_API_KEY, or TICKSTOCK_API_KEY_FILE to a file holding the key")


class AsyncClient(PatternCalls, AlertCalls, BacktestCalls):
    """A connection to a TickStock server for one user (an API key or a session token).

    Use it as `async with AsyncClient(target, api_key=key) as client:`, or call `close()`.
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        api_key: str,
        credentials: grpc.ChannelCredentials | None = None,
        timeout: timedelta = timedelta(seconds=15),
    ) -> None:
        """Connect lazily to `target` (host:port); `credentials` for TLS, plaintext when None."""
        if not api_key:
            raise ValueError("an API key or session token is required")
        self._channel = (
            grpc.aio.secure_channel(target, credentials, options=_CHANNEL_OPTIONS)
            if credentials is not None
            else grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
        )
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self._timeout_s = timeout.total_seconds()
        self._auth = auth_service_pb2_grpc.AuthServiceStub(self._channel)
        self._events = event_service_pb2_grpc.EventServiceStub(self._channel)
        self._market = market_data_service_pb2_grpc.MarketDataServiceStub(self._channel)
        self._universe = universe_service_pb2_grpc.UniverseServiceStub(self._channel)
        self._patterns = pattern_service_pb2_grpc.PatternServiceStub(self._channel)
        self._backtests = backtest_service_pb2_grpc.BacktestServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    def __repr__(self) -> str:
        return "AsyncClient(<credentials hidden>)"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel; open streams end."""
        await self._channel.close(None)

    async def _call(self, method: Callable[..., Awaitable[_T]], request: Any, *, idempotent: bool) -> _T:
        backoff = Backoff()
        for attempt in range(_RETRIES if idempotent else 1):
            try:
                return await method(request, metadata=self._metadata, timeout=self._timeout_s)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == _RETRIES - 1 or not idempotent:
                    raise error_from_rpc(exc) from None
                await asyncio.sleep(backoff.delay_s())
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _paged(
        self, method: Callable[..., Awaitable[Any]], request: Any, items: Callable[[Any], Iterable[_T]]
    ) -> AsyncIterator[_T]:
        """Every item of every page of a list call, following `next_page_token`."""
        while True:
            answer = await self._call(method, request, idempotent=True)
            for item in items(answer):
                yield item
            if not answer.next_page_token:
                return
            request.page_token = answer.next_page_token

    # --- AuthService -----------------------------------------------------------------------------

    async def create_session_token(self, ttl: timedelta | None = None) -> SessionToken:
        """A short-lived token for this client's user (for a browser, say), renewable with itself."""
        request = auth_service_pb2.CreateSessionTokenRequest()
        if ttl is not None:
            request.ttl.CopyFrom(duration_pb2.Duration(seconds=int(ttl.total_seconds())))
        answer = await self._call(self._auth.CreateSessionToken, request, idempotent=False)
        return SessionToken(
            token=answer.token, user=answer.user, expire_time=datetime_from_proto(answer.expire_time)
        )

    # --- EventService ----------------------------------------------------------------------------

    def stream_events(
        self,
        event_filter: EventFilter | None = None,
        *,
        preset_name: str = "",
        resume_token: ResumeToken | None = None,
        heartbeat_interval: timedelta = timedelta(seconds=5),
    ) -> EventStream:
        """Live events (and gap, drop and replay notices) that survive disconnects and server restarts.

        Pass the `resume_token` of an earlier stream to continue exactly where it stopped.
        """
        return EventStream(
            lambda request: self._events.StreamEvents(request, metadata=self._metadata),
            event_filter,
            preset_name=preset_name,
            resume_token=resume_token,
            heartbeat_interval=heartbeat_interval,
        )

    # --- MarketDataService -----------------------------------------------------------------------

    async def get_bars(
        self,
        symbol: str,
        interval: BarInterval = BarInterval.ONE_MINUTE,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Bar]:
        """Every bar of `symbol` in [start, end), oldest first.

        Without `end`, up to the newest bar the server holds (and, when `start` is missing too, one
        page of bars back from there).
        """
        request = market_data_service_pb2.GetBarsRequest(
            symbol=symbol, interval=bar_interval_to_proto(interval), page_size=1000
        )
        if start is not None:
            request.start_time.CopyFrom(timestamp_to_proto(start))
        if end is not None:
            request.end_time.CopyFrom(timestamp_to_proto(end))
        pages = self._paged(self._market.GetBars, request, lambda answer: map(bar_from_proto, answer.bars))
        return [bar async for bar in pages]

    # --- UniverseService -------------------------------------------------------------------------

    async def list_symbols(
        self, query: str = "", *, market: str = "", type: str = ""
    ) -> AsyncIterator[Symbol]:
        """Every symbol matching `query` (a prefix of the ticker or a word of the name), page by page."""
        request = universe_service_pb2.ListSymbolsRequest(
            query=query, market=market, type=type, page_size=1000
        )
        pages = self._paged(self._universe.ListSymbols, request, lambda a: map(symbol_from_proto, a.symbols))
        async for symbol in pages:
            yield symbol

    async def get_symbol(self, symbol: str) -> Symbol:
        """One symbol's reference data; NotFoundError when it is unknown."""
        request = universe_service_pb2.GetSymbolRequest(symbol=symbol)
        answer = await self._call(self._universe.GetSymbol, request, idempotent=True)
        return symbol_from_proto(answer.symbol)

    async def list_universes(self) -> list[Universe]:
        """Every universe, without member lists (see `get_universe`)."""
        answer = await self._call(
            self._universe.ListUniverses, universe_service_pb2.ListUniversesRequest(), idempotent=True
        )
        return [universe_from_proto(universe) for universe in answer.universes]

    async def get_universe(self, name: str) -> Universe:
        """One universe with its members."""
        request = universe_service_pb2.GetUniverseRequest(name=name)
        answer = await self._call(self._universe.GetUniverse, request, idempotent=True)
        return universe_from_proto(answer.universe)

    async def create_watchlist(self, name: str, symbols: tuple[str, ...] | list[str] = ()) -> Watchlist:
        """A new watchlist of this user."""
        request = universe_service_pb2.CreateWatchlistRequest(
            watchlist=universe_service_pb2.Watchlist(name=name, symbols=symbols)
        )
        answer = await self._call(self._universe.CreateWatchlist, request, idempotent=False)
        return watchlist_from_proto(answer.watchlist)

    async def list_watchlists(self) -> list[Watchlist]:
        """The watchlists of this client's user."""
        answer = await self._call(
            self._universe.ListWatchlists, universe_service_pb2.ListWatchlistsRequest(), idempotent=True
        )
        return [watchlist_from_proto(watchlist) for watchlist in answer.watchlists]

    async def get_watchlist(self, watchlist_id: str) -> Watchlist:
        """One of this user's watchlists; NotFoundError for another user's."""
        request = universe_service_pb2.GetWatchlistRequest(watchlist_id=watchlist_id)
        answer = await self._call(self._universe.GetWatchlist, request, idempotent=True)
        return watchlist_from_proto(answer.watchlist)

    async def update_watchlist(
        self,
        watchlist_id: str,
        *,
        name: str | None = None,
        symbols: tuple[str, ...] | list[str] | None = None,
    ) -> Watchlist:
        """Rename a watchlist and/or replace its symbols; fields left None stay as they are."""
        watchlist = universe_service_pb2.Watchlist(watchlist_id=watchlist_id)
        paths: list[str] = []
        if name is not None:
            watchlist.name = name
            paths.append("name")
        if symbols is not None:
            watchlist.symbols.extend(symbols)
            paths.append("symbols")
        request = universe_service_pb2.UpdateWatchlistRequest(
            watchlist=watchlist, update_mask=field_mask_pb2.FieldMask(paths=paths)
        )
        answer = await self._call(self._universe.UpdateWatchlist, request, idempotent=True)
        return watchlist_from_proto(answer.watchlist)

    async def delete_watchlist(self, watchlist_id: str) -> None:
        """Delete one of this user's watchlists."""
        request = universe_service_pb2.DeleteWatchlistRequest(watchlist_id=watchlist_id)
        await self._call(self._universe.DeleteWatchlist, request, idempotent=True)

    # --- grpc.health.v1 --------------------------------------------------------------------------

    async def health(self, service: str = "") -> str:
        """The health of `service` ("" is the whole server): "serving" or "not_serving"."""
        request = health_pb2.HealthCheckRequest(service=service)
        answer = await self._call(self._health.Check, request, idempotent=True)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)).lower()
