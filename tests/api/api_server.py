"""An in-process gRPC server on a free port with in-memory adapters, and what tests need to drive it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from event_factories import TS_NS

from tickstock.v1 import event_service_pb2_grpc, pattern_service_pb2_grpc
from tickstock_server.adapters.memory.alerts import MemoryAlertStore
from tickstock_server.adapters.memory.api_keys import MemoryApiKeyStore
from tickstock_server.adapters.memory.events import MemoryEventHistory
from tickstock_server.adapters.memory.presets import MemoryFilterPresetStore
from tickstock_server.adapters.memory.universes import MemoryUniverses, MemoryWatchlists
from tickstock_server.alerts.router import AlertRouter
from tickstock_server.alerts.service import AlertService
from tickstock_server.api.auth import AuthInterceptor
from tickstock_server.api.auth_failures import AuthFailures
from tickstock_server.api.auth_service import AuthServiceServicer
from tickstock_server.api.event_service import EventServiceServicer, StreamLimits
from tickstock_server.api.key_cache import KeyCache
from tickstock_server.api.mappers.events import encode_event
from tickstock_server.api.pattern_service import PatternServiceServicer, ProducerStatus
from tickstock_server.api.revocation import RevocationWatch
from tickstock_server.api.rpc_metrics import RpcMetrics
from tickstock_server.api.server import create_server, served_methods, set_serving
from tickstock_server.api.universe_service import UniverseServiceServicer
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.hub import SubscriptionHub
from tickstock_server.delivery.session import StreamSources
from tickstock_server.domain.alerts import AlertLimits
from tickstock_server.domain.events import Event
from tickstock_server.domain.universes import SymbolInfo, Watchlist
from tickstock_server.patterns.cache import PatternCache
from tickstock_server.ports.events import SnapshotSource
from tickstock_server.support.token_bucket import UserTokenBuckets
from tickstock_server.universes.service import UniverseCatalog, Watchlists

UNIVERSES = {"dow3": ("AAPL", "MSFT", "IBM"), "chips": ("NVDA", "AMD")}
"""Universes of the test servers."""
ALICE_TECH = Watchlist(
    watchlist_id="wl-1", user="alice", name="tech", symbols=("NVDA", "TSLA"), create_ns=0, update_ns=0
)
"""A watchlist of alice's."""
BOB_BANKS = Watchlist(
    watchlist_id="wl-2", user="bob", name="banks", symbols=("JPM",), create_ns=0, update_ns=0
)
"""A watchlist of bob's, invisible to alice."""

SYMBOLS = (
    SymbolInfo(symbol="AAPL", name="Apple Inc.", exchange="XNAS"),
    SymbolInfo(symbol="AMD", name="Advanced Micro Devices, Inc.", exchange="XNAS"),
    SymbolInfo(symbol="BRK.B", name="Berkshire Hathaway Inc. (Class B)", exchange="XNYS"),
    SymbolInfo(symbol="IBM", name="International Business Machines Corp.", exchange="XNYS"),
    SymbolInfo(symbol="JPM", name="JPMorgan Chase & Co.", exchange="XNYS", market_cap_usd=600_000_000_000),
    SymbolInfo(symbol="MSFT", name="Microsoft Corp.", exchange="XNAS"),
    SymbolInfo(symbol="NVDA", name="NVIDIA Corp.", exchange="XNAS"),
    SymbolInfo(symbol="QQQ", name="Invesco QQQ Trust", exchange="XNAS", type="ETF"),
    SymbolInfo(symbol="SPY", name="SPDR S&P 500 ETF Trust", exchange="ARCX", type="ETF"),
    SymbolInfo(symbol="TSLA", name="Tesla, Inc.", exchange="XNAS"),
    SymbolInfo(symbol="TSMWF", name="Taiwan Semiconductor (OTC)", exchange="OTC", market="otc", active=False),
)
"""Reference data of UniverseService on the test servers, sorted by ticker."""

EVENT_SERVICE = "tickstock.v1.EventService"
AUTH_SERVICE = "tickstock.v1.AuthService"
UNIVERSE_SERVICE = "tickstock.v1.UniverseService"
PATTERN_SERVICE = "tickstock.v1.PatternService"
MAX_ALERT_SUBSCRIPTIONS = 3
"""Alert subscriptions one user may hold on the test servers."""


@dataclass
class PatternParts:
    """What PatternService runs on in a test server: put patterns into `cache` as the consumer does."""

    cache: PatternCache
    alerts: MemoryAlertStore
    router: AlertRouter
    """Routes every pattern put into `cache` to the alert streams, at the server's clock."""


def build_pattern_service(
    *, clock_ns: Callable[[], int], max_streams: int
) -> tuple[PatternParts, PatternServiceServicer]:
    """A PatternService over the memory fakes, its alert router fed by its cache as in the server."""
    universes = MemoryUniverses(UNIVERSES)
    parts = PatternParts(
        cache=PatternCache(),
        alerts=MemoryAlertStore(clock_ns=clock_ns),
        router=AlertRouter(resolver=universes.resolve),
    )
    parts.cache.add_listener(lambda pattern: parts.router.route(pattern, clock_ns()))
    alerts = AlertService(
        store=parts.alerts,
        universes=universes,
        router=parts.router,
        limits=AlertLimits(max_subscriptions_per_user=MAX_ALERT_SUBSCRIPTIONS),
    )
    servicer = PatternServiceServicer(
        cache=parts.cache,
        universes=universes,
        alerts=alerts,
        alert_router=parts.router,
        producer_status=lambda: ProducerStatus(
            events_processed=0, invalid_messages=0, heartbeat_ns=None, fallback_active=False
        ),
        max_streams_per_user=max_streams,
        clock_ns=clock_ns,
    )
    return parts, servicer


@dataclass
class ApiServer:
    """A running server and what the tests need to drive it."""

    port: int
    channel: grpc.aio.Channel
    keys: MemoryApiKeyStore
    log: EventLog
    hub: SubscriptionHub
    history: MemoryEventHistory
    presets: MemoryFilterPresetStore
    patterns: PatternParts
    """PatternService's cache and alert fakes (the service is served only when started with it)."""
    token: str
    server: grpc.aio.Server
    auth: AuthInterceptor
    """Its key cache, revocation watch (checked only when a test calls `check`) and failure limits."""
    rpc_metrics: RpcMetrics
    """What times every call."""
    metadata: tuple[tuple[str, str], ...] = field(default=())

    def publish(self, *events: Event) -> None:
        """Append events to the log and hand them to the hub and the history, as the pipeline does."""
        entries = self.log.append(events, ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS)
        self.hub.publish(entries)
        self.history.add(entries)

    def events_stub(self) -> event_service_pb2_grpc.EventServiceStub:
        """A stub of EventService on the test channel."""
        return event_service_pb2_grpc.EventServiceStub(self.channel)

    def patterns_stub(self) -> pattern_service_pb2_grpc.PatternServiceStub:
        """A stub of PatternService on the test channel."""
        return pattern_service_pb2_grpc.PatternServiceStub(self.channel)


ServerFactory = Callable[..., Any]


async def start_server(
    *,
    queue_capacity: int = 1000,
    max_streams: int = 10,
    log_capacity: int = 1000,
    max_age_s: float | None = None,
    snapshots: SnapshotSource | None = None,
    extra_servicers: Mapping[str, object] | None = None,
    max_connection_age_s: float = 3600,
    clock_ns: Callable[[], int] = time.time_ns,
    patterns: bool = False,
    max_pattern_streams: int = 10,
    universe_service: bool = False,
    auth_failures: AuthFailures | None = None,
    log_payloads: bool = False,
    max_replay_events: int = 100_000,
    replay_budget: UserTokenBuckets | None = None,
    stall_timeout_s: float = 5.0,
    shared_watchlists: bool = False,
) -> ApiServer:
    """Start a server with chosen limits and extra servicers; stop it with `stop_server`.

    With `patterns` it also serves PatternService, and with `universe_service` UniverseService over
    `SYMBOLS`, `UNIVERSES` and watchlists of its own (none at the start). Both are off by default, so
    tests of unimplemented services keep one to call. EventService resolves `watchlist_ids` in
    `ALICE_TECH` and `BOB_BANKS`; with `shared_watchlists` it resolves them in UniverseService's store
    instead (empty at the start), as the server does, so watchlists created by a test are visible there.
    """
    keys = MemoryApiKeyStore()
    key_cache = KeyCache(keys, clock_ns=clock_ns)
    auth = AuthInterceptor(key_cache, RevocationWatch(keys, key_cache), auth_failures or AuthFailures())
    issued = await keys.create("alice")
    log = EventLog(encode_event, capacity=log_capacity, epoch="test-epoch")
    hub = SubscriptionHub(max_streams_per_user=max_streams, queue_capacity=queue_capacity)
    history = MemoryEventHistory()
    presets = MemoryFilterPresetStore(max_per_user=3)
    watchlists = MemoryWatchlists(clock_ns=clock_ns) if shared_watchlists else None
    events = EventServiceServicer(
        sources=StreamSources(
            hub=hub,
            log=log,
            history=history,
            snapshots=snapshots,
            max_age_s=max_age_s,
            max_replay_events=max_replay_events,
            replay_budget=replay_budget or UserTokenBuckets(rate_per_s=1_000_000, burst=1_000_000),
            stall_timeout_s=stall_timeout_s,
        ),
        limits=StreamLimits(max_symbols=100, max_streams=max_streams),
        universes=MemoryUniverses(UNIVERSES),
        watchlists=watchlists or MemoryWatchlists([ALICE_TECH, BOB_BANKS]),
        presets=presets,
        feed_age_ns=lambda: 1_500_000_000,
        shutdown_grace_s=5.0,
    )
    pattern_parts, pattern_service = build_pattern_service(clock_ns=clock_ns, max_streams=max_pattern_streams)
    rpc_metrics = RpcMetrics(served_methods())
    server, port, health = create_server(
        servicers={
            AUTH_SERVICE: AuthServiceServicer(keys=key_cache, clock_ns=clock_ns),
            EVENT_SERVICE: events,
            **({PATTERN_SERVICE: pattern_service} if patterns else {}),
            **({UNIVERSE_SERVICE: _universe_servicer(clock_ns, watchlists)} if universe_service else {}),
            **(extra_servicers or {}),
        },
        auth=auth,
        host="127.0.0.1",
        port=0,
        max_connection_age_s=max_connection_age_s,
        max_stream_age_s=max_age_s,
        rotation_grace_s=5.0,
        log_payloads=log_payloads,
        rpc_metrics=rpc_metrics,
    )
    await server.start()
    await set_serving(health, [EVENT_SERVICE], True)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    api = ApiServer(
        port=port,
        channel=channel,
        keys=keys,
        log=log,
        hub=hub,
        history=history,
        presets=presets,
        patterns=pattern_parts,
        token=issued.token,
        server=server,
        auth=auth,
        rpc_metrics=rpc_metrics,
        metadata=(("authorization", f"Bearer {issued.token}"),),
    )
    return api


def _universe_servicer(
    clock_ns: Callable[[], int], store: MemoryWatchlists | None
) -> UniverseServiceServicer:
    universes = MemoryUniverses(UNIVERSES, symbols=SYMBOLS)
    watchlists = Watchlists(store or MemoryWatchlists(clock_ns=clock_ns), symbols=universes)
    return UniverseServiceServicer(universes=UniverseCatalog(universes), watchlists=watchlists)


async def stop_server(api: ApiServer) -> None:
    """Close the test's channel and stop the server."""
    await api.channel.close()
    await api.server.stop(None)
