"""Fuzz targets of the request parsers: what each servicer runs on a request before it reads a store.

Each target decodes the input as its request type (bytes gRPC could not decode never reach a servicer: a
rejection), checks it against its proto's `buf.validate` limits as the validation interceptor does (a
violation is a rejection), then runs the mappers and validators its servicer runs, in the same order,
over in-memory stores. An exception maps to a status through the product's own table
(`api.errors.status_for`): INVALID_ARGUMENT, NOT_FOUND and the like are rejections; INTERNAL is a crash.

Paged requests also get forged page tokens: the token check is a hash any client can compute, so a
token may carry any values of any shape, and the mapper must still refuse the bad ones.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import protovalidate
from fuzz_inputs import proto_generator
from fuzz_page_tokens import with_forged_tokens
from fuzz_target import Target, TargetBroken
from google.protobuf import duration_pb2, field_mask_pb2, timestamp_pb2
from google.protobuf.message import DecodeError, Message

from tickstock.v1 import (
    auth_service_pb2,
    backtest_service_pb2,
    common_pb2,
    event_service_pb2,
    events_pb2,
    market_data_service_pb2,
    pattern_service_pb2,
    universe_service_pb2,
)
from tickstock_server.adapters.memory.universes import MemoryUniverses, MemoryWatchlists
from tickstock_server.api.errors import status_for
from tickstock_server.api.mappers import auth_service as auth_mappers
from tickstock_server.api.mappers import backtest_service as backtest_mappers
from tickstock_server.api.mappers import event_service as event_mappers
from tickstock_server.api.mappers import market_data_service as bar_mappers
from tickstock_server.api.mappers import pattern_service as pattern_mappers
from tickstock_server.api.mappers import universe_service as universe_mappers
from tickstock_server.api.mappers._common import timestamp_from_ns
from tickstock_server.api.validation import request_violations
from tickstock_server.delivery.resolve import resolve_filter
from tickstock_server.domain.alerts import AlertLimits, validate_alert_subscription
from tickstock_server.domain.backtest_requests import validate_submission
from tickstock_server.domain.filter_spec import FilterSpec
from tickstock_server.domain.session_tokens import SessionClaims, issue_session_token, read_session_token
from tickstock_server.domain.universes import SymbolInfo, Watchlist
from tickstock_server.errors import FieldViolation, InvalidRequestError
from tickstock_server.support.time_units import NS_PER_S
from tickstock_server.universes.service import UniverseCatalog, Watchlists

_USER = "alice"
_TODAY = dt.date(2026, 1, 6)
_NOW_S = 1_767_700_800  # 2026-01-06T12:00:00Z
_SESSION_SECRET = bytes(range(32))
_UNIVERSES = {"dow3": ("AAPL", "MSFT", "IBM"), "chips": ("NVDA", "AMD")}
_SYMBOLS = [SymbolInfo(symbol=s, name=s, exchange="XNAS") for s in ("AAPL", "AMD", "IBM", "MSFT", "NVDA")]
_WATCHLIST = Watchlist(
    watchlist_id="wl-1", user=_USER, name="tech", symbols=("NVDA",), create_ns=0, update_ns=0
)
_MAX_STREAM_SYMBOLS = 1000

Handler = Callable[[Any], Awaitable[None]]


class _Stores:
    """The in-memory stores the servicers' validators consult (universes, symbols, watchlists)."""

    def __init__(self) -> None:
        self.universes = MemoryUniverses(_UNIVERSES, symbols=_SYMBOLS)
        self.catalog = UniverseCatalog(self.universes)
        self.watchlist_store = MemoryWatchlists([_WATCHLIST], clock_ns=lambda: 0)
        self.watchlists = Watchlists(self.watchlist_store, symbols=self.universes)


def _handlers(stores: _Stores) -> dict[str, Handler]:
    async def resolve_event_filter(spec: FilterSpec) -> None:
        await resolve_filter(
            spec,
            user=_USER,
            universes=stores.catalog,
            watchlists=stores.watchlist_store,
            max_symbols=_MAX_STREAM_SYMBOLS,
        )

    async def stream_events(request: event_service_pb2.StreamEventsRequest) -> None:
        await resolve_event_filter(event_mappers.parse_stream_request(request).spec)

    async def save_filter_preset(request: event_service_pb2.SaveFilterPresetRequest) -> None:
        violations: list[FieldViolation] = []
        event_mappers.check_preset_name(request.preset.name, "preset.name", violations)
        spec = event_mappers.parse_filter(request.preset.filter, "preset.filter", violations)
        if violations:
            raise InvalidRequestError(violations)
        await resolve_event_filter(spec)

    async def delete_filter_preset(request: event_service_pb2.DeleteFilterPresetRequest) -> None:
        violations: list[FieldViolation] = []
        event_mappers.check_preset_name(request.name, "name", violations)
        if violations:
            raise InvalidRequestError(violations)

    async def resolve(proto: pattern_service_pb2.PatternFilter) -> frozenset[str] | None:
        universes = list(proto.universes)
        if not universes:
            return None
        try:
            return await stores.catalog.resolve(universes)
        except InvalidRequestError as exc:
            raise pattern_mappers.in_filter(exc) from exc

    async def scan_patterns(request: pattern_service_pb2.ScanPatternsRequest) -> None:
        pattern_mappers.scan_query_from_proto(request, await resolve(request.filter))

    async def stream_patterns(request: pattern_service_pb2.StreamPatternsRequest) -> None:
        pattern_mappers.heartbeat_s_from_proto(request.heartbeat_interval)
        pattern_mappers.stream_query_from_proto(request, await resolve(request.filter))

    async def create_alert_subscription(request: pattern_service_pb2.CreateAlertSubscriptionRequest) -> None:
        subscription = pattern_mappers.alert_subscription_from_proto(request.subscription, _USER)
        violations = validate_alert_subscription(subscription, limits=AlertLimits())
        if violations:
            raise InvalidRequestError(violations)

    async def stream_alerts(request: pattern_service_pb2.StreamAlertsRequest) -> None:
        pattern_mappers.heartbeat_s_from_proto(request.heartbeat_interval)

    async def list_symbols(request: universe_service_pb2.ListSymbolsRequest) -> None:
        query = universe_mappers.parse_list_symbols(request)
        await stores.catalog.list_symbols(query.search, after=query.after, limit=query.limit)

    async def get_symbol(request: universe_service_pb2.GetSymbolRequest) -> None:
        await stores.catalog.get_symbol(universe_mappers.parse_symbol(request))

    async def get_universe(request: universe_service_pb2.GetUniverseRequest) -> None:
        await stores.catalog.get_universe(request.name)

    async def create_watchlist(request: universe_service_pb2.CreateWatchlistRequest) -> None:
        created = await stores.watchlists.create(
            _USER, request.watchlist.name, tuple(request.watchlist.symbols)
        )
        await stores.watchlists.delete(_USER, created.watchlist_id)  # keep the user under the limit

    async def update_watchlist(request: universe_service_pb2.UpdateWatchlistRequest) -> None:
        changes = universe_mappers.parse_watchlist_changes(request)
        await stores.watchlists.update(
            _USER, changes.watchlist_id, name=changes.name, symbols=changes.symbols
        )

    async def get_bars(request: market_data_service_pb2.GetBarsRequest) -> None:
        bar_mappers.parse_get_bars(request)
        if request.page_token:
            bar_mappers.bars_page_cursor(request)

    async def submit_backtest(request: backtest_service_pb2.SubmitBacktestRequest) -> None:
        validate_submission(backtest_mappers.submission_from_proto(request), today=_TODAY)

    async def list_backtests(request: backtest_service_pb2.ListBacktestsRequest) -> None:
        backtest_mappers.list_query_from_proto(request, _USER)

    async def create_session_token(request: auth_service_pb2.CreateSessionTokenRequest) -> None:
        now_ns = _NOW_S * NS_PER_S
        claims = SessionClaims(
            user=_USER,
            key_id="0123456789ab",
            expires_ns=now_ns + auth_mappers.ttl_s_from_proto(request) * NS_PER_S,
        )
        token = issue_session_token(claims, _SESSION_SECRET)
        timestamp_from_ns(claims.expires_ns)
        if read_session_token(token, _SESSION_SECRET, now_ns) != claims:
            raise TargetBroken(f"the token issued for {claims} does not read back")

    return {
        "StreamEvents": stream_events,
        "SaveFilterPreset": save_filter_preset,
        "DeleteFilterPreset": delete_filter_preset,
        "ScanPatterns": scan_patterns,
        "StreamPatterns": stream_patterns,
        "CreateAlertSubscription": create_alert_subscription,
        "StreamAlerts": stream_alerts,
        "ListSymbols": list_symbols,
        "GetSymbol": get_symbol,
        "GetUniverse": get_universe,
        "CreateWatchlist": create_watchlist,
        "UpdateWatchlist": update_watchlist,
        "GetBars": get_bars,
        "SubmitBacktest": submit_backtest,
        "ListBacktests": list_backtests,
        "CreateSessionToken": create_session_token,
    }


def _ts(seconds: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds)


def _event_filter() -> event_service_pb2.EventFilter:
    return event_service_pb2.EventFilter(
        symbols=["AAPL", "msft"],
        universes=["dow3"],
        watchlist_ids=["wl-1"],
        event_types=[events_pb2.EVENT_TYPE_HIGH],
        min_price=1.5,
        max_price=500.0,
        min_volume=100,
    )


def _pattern_filter() -> pattern_service_pb2.PatternFilter:
    return pattern_service_pb2.PatternFilter(
        pattern_types=["Bull_Flag"], symbols=["AAPL"], universes=["chips"], min_confidence=0.5, max_rsi=70.0
    )


_HEARTBEAT = duration_pb2.Duration(seconds=5)

CORPUS: dict[str, list[Message]] = {
    "StreamEvents": [
        event_service_pb2.StreamEventsRequest(filter=_event_filter()),
        event_service_pb2.StreamEventsRequest(
            preset_name="mine",
            resume_token=event_service_pb2.ResumeToken(epoch="e1", seq=42),
            delivery=event_service_pb2.DeliveryOptions(max_batch_size=50, heartbeat_interval=_HEARTBEAT),
        ),
    ],
    "SaveFilterPreset": [
        event_service_pb2.SaveFilterPresetRequest(
            preset=event_service_pb2.FilterPreset(name="tech-highs", filter=_event_filter())
        )
    ],
    "DeleteFilterPreset": [event_service_pb2.DeleteFilterPresetRequest(name="tech-highs")],
    "ScanPatterns": [
        pattern_service_pb2.ScanPatternsRequest(filter=_pattern_filter(), page_size=20),
        pattern_service_pb2.ScanPatternsRequest(
            sort_by=pattern_service_pb2.PATTERN_SORT_FIELD_DETECT_TIME,
            sort_order=common_pb2.SORT_ORDER_ASCENDING,
        ),
    ],
    "StreamPatterns": [
        pattern_service_pb2.StreamPatternsRequest(filter=_pattern_filter(), heartbeat_interval=_HEARTBEAT)
    ],
    "CreateAlertSubscription": [
        pattern_service_pb2.CreateAlertSubscriptionRequest(
            subscription=pattern_service_pb2.AlertSubscription(
                pattern_types=["Doji"],
                symbols=["AAPL"],
                universes=["dow3"],
                min_confidence=0.7,
                quiet_hours=pattern_service_pb2.QuietHours(
                    start=common_pb2.TimeOfDay(hours=22), end=common_pb2.TimeOfDay(hours=6)
                ),
                time_zone="America/New_York",
                max_alerts_per_hour=10,
            )
        )
    ],
    "StreamAlerts": [pattern_service_pb2.StreamAlertsRequest(heartbeat_interval=_HEARTBEAT)],
    "ListSymbols": [
        universe_service_pb2.ListSymbolsRequest(query="app", market="stocks", type="CS", page_size=10),
        universe_service_pb2.ListSymbolsRequest(),
    ],
    "GetSymbol": [universe_service_pb2.GetSymbolRequest(symbol="AAPL")],
    "GetUniverse": [
        universe_service_pb2.GetUniverseRequest(name="dow3"),
        universe_service_pb2.GetUniverseRequest(name="dow3:chips"),
    ],
    "CreateWatchlist": [
        universe_service_pb2.CreateWatchlistRequest(
            watchlist=universe_service_pb2.Watchlist(name="semis", symbols=["AAPL", "MSFT"])
        )
    ],
    "UpdateWatchlist": [
        universe_service_pb2.UpdateWatchlistRequest(
            watchlist=universe_service_pb2.Watchlist(watchlist_id="wl-1", name="tech2", symbols=["IBM"]),
            update_mask=field_mask_pb2.FieldMask(paths=["name", "symbols"]),
        )
    ],
    "GetBars": [
        market_data_service_pb2.GetBarsRequest(
            symbol="AAPL",
            interval=market_data_service_pb2.BAR_INTERVAL_1_MINUTE,
            start_time=_ts(1_767_700_000),
            end_time=_ts(1_767_786_400),
            page_size=100,
        )
    ],
    "SubmitBacktest": [
        backtest_service_pb2.SubmitBacktestRequest(
            symbols=["AAPL", "MSFT"],
            start_date=common_pb2.Date(year=2025, month=1, day=2),
            end_date=common_pb2.Date(year=2025, month=12, day=31),
            patterns=["Doji"],
            parameters=backtest_service_pb2.BacktestParameters(initial_capital=100_000, stop_loss_pct=0.05),
        )
    ],
    "ListBacktests": [backtest_service_pb2.ListBacktestsRequest(page_size=10)],
    "CreateSessionToken": [
        auth_service_pb2.CreateSessionTokenRequest(),
        auth_service_pb2.CreateSessionTokenRequest(ttl=duration_pb2.Duration(seconds=900)),
    ],
}
"""Valid requests of each RPC whose request has fields to validate."""

ACCEPTED, UNDECODABLE, LIMITS = "OK", "undecodable", "limits"
"""Answers that are no status of a servicer: accepted, refused by gRPC's decoding or by the proto's limits."""


class RequestPath:
    """What the server runs on one RPC's requests: decoding, the proto's limits, then the servicer's path.

    Each input's answer is `ACCEPTED`, `UNDECODABLE`, `LIMITS` or the name of the status its error maps
    to; rejections are counted by answer. An error the product's table maps to INTERNAL is raised.
    """

    def __init__(
        self,
        request_type: type[Message],
        handle: Callable[[Any], Awaitable[None]],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._request_type = request_type
        self._handle = handle
        self._loop = loop
        self._validator = protovalidate.Validator()
        self.rejected: Counter[str] = Counter()
        """Rejected inputs by answer."""

    def answer(self, raw: bytes) -> tuple[Message | None, str]:
        """The decoded request (None when it does not decode) and its answer."""
        try:
            request = self._request_type.FromString(raw)
        except DecodeError:
            return self._refused(None, UNDECODABLE)  # gRPC refuses it before the servicer
        try:
            # The interceptor's check of the limits the proto declares, then what the servicer runs.
            if request_violations(self._validator, request):
                return self._refused(request, LIMITS)
            self._loop.run_until_complete(self._handle(request))
        except Exception as exc:
            status = status_for(exc)
            if status.code is grpc.StatusCode.INTERNAL:
                raise
            return self._refused(request, status.code.name)
        return request, ACCEPTED

    def _refused(self, request: Message | None, answer: str) -> tuple[Message | None, str]:
        self.rejected[answer] += 1
        return request, answer


def request_target(rpc: str) -> Callable[[], Target]:
    """Requests of one RPC through the parsers and validators its servicer runs."""
    request_type = type(CORPUS[rpc][0])

    def build() -> Target:
        loop = asyncio.new_event_loop()
        path = RequestPath(request_type, _handlers(_Stores())[rpc], loop)
        return Target(
            generate=with_forged_tokens(rpc, type(CORPUS[rpc][0]), proto_generator(CORPUS[rpc])),
            run=lambda raw: int(path.answer(raw)[1] != ACCEPTED),
            counted=None,
            close=loop.close,
            reasons=lambda: path.rejected,
        )

    return build


REQUEST_TARGETS: dict[str, Callable[[], Target]] = {f"request_{rpc}": request_target(rpc) for rpc in CORPUS}
"""Request targets by name, one per RPC with fields to validate."""
