"""The gateway side: every gRPC service.

Its event stream sources and unstored bars are local in the all-in-one server, and come from the
ingest process through Redis in a gateway (`role = gateway`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg

from tickstock_server.api.auth_service import AuthServiceServicer
from tickstock_server.api.event_service import EventServiceServicer, StreamLimits
from tickstock_server.api.key_cache import KeyCache
from tickstock_server.api.market_data_service import MarketDataServiceServicer
from tickstock_server.api.server import (
    AUTH_SERVICE,
    BACKTEST_SERVICE,
    EVENT_SERVICE,
    MARKET_DATA_SERVICE,
    PATTERN_SERVICE,
    UNIVERSE_SERVICE,
)
from tickstock_server.api.universe_service import UniverseServiceServicer
from tickstock_server.app.pattern_side import PatternSide
from tickstock_server.config import Settings
from tickstock_server.delivery.session import StreamSources
from tickstock_server.domain.bar import Bar
from tickstock_server.storage.bars import PgBarReader
from tickstock_server.storage.filter_presets import PgFilterPresetStore
from tickstock_server.storage.universes import PgUniverseStore
from tickstock_server.storage.watchlists import PgWatchlistStore
from tickstock_server.universes.service import UniverseCatalog, Watchlists


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayInputs:
    """What the services read that the ingest side produces."""

    sources: StreamSources
    pending_bars: Callable[[str], Awaitable[Sequence[Bar]]]
    """The symbol's one-minute bars not stored yet."""
    feed_age_ns: Callable[[], int]
    """Wall-clock time since the feed last delivered ticks."""
    market_clock_ns: Callable[[], int]
    """The newest tick's event time (the wall clock before the first)."""


def build_servicers(
    settings: Settings, pool: asyncpg.Pool, keys: KeyCache, inputs: GatewayInputs, patterns: PatternSide
) -> dict[str, object]:
    """Every service's servicer, by the service's full name."""
    delivery = settings.delivery
    universe_store = PgUniverseStore(pool)
    universes = UniverseCatalog(universe_store)
    watchlists = PgWatchlistStore(pool)
    return {
        AUTH_SERVICE.full_name: AuthServiceServicer(keys=keys),
        EVENT_SERVICE.full_name: EventServiceServicer(
            sources=inputs.sources,
            limits=StreamLimits(
                max_symbols=delivery.max_symbols_per_subscription,
                max_streams=delivery.max_streams_per_user,
            ),
            universes=universes,
            watchlists=watchlists,
            presets=PgFilterPresetStore(pool, max_per_user=delivery.max_presets_per_user),
            feed_age_ns=inputs.feed_age_ns,
            shutdown_grace_s=settings.grpc.shutdown_grace_s,
        ),
        MARKET_DATA_SERVICE.full_name: MarketDataServiceServicer(
            bars=PgBarReader(pool, inputs.pending_bars), market_clock_ns=inputs.market_clock_ns
        ),
        UNIVERSE_SERVICE.full_name: UniverseServiceServicer(
            universes=universes, watchlists=Watchlists(watchlists, symbols=universe_store)
        ),
        PATTERN_SERVICE.full_name: patterns.pattern_service,
        BACKTEST_SERVICE.full_name: patterns.backtest_service,
    }
