"""Conversions of `universe_service.proto`: symbols, universes and watchlists."""

from __future__ import annotations

from tickstock.v1 import universe_service_pb2
from tickstock_server.api.mappers._common import timestamp_from_ns
from tickstock_server.domain.universes import SymbolInfo, Universe, UniverseKind, UniverseSummary, Watchlist

_UNIVERSE_KINDS: dict[UniverseKind, universe_service_pb2.UniverseKind.ValueType] = {
    UniverseKind.INDEX: universe_service_pb2.UNIVERSE_KIND_INDEX,
    UniverseKind.ETF: universe_service_pb2.UNIVERSE_KIND_ETF,
    UniverseKind.SECTOR: universe_service_pb2.UNIVERSE_KIND_SECTOR,
    UniverseKind.THEME: universe_service_pb2.UNIVERSE_KIND_THEME,
    UniverseKind.UNION: universe_service_pb2.UNIVERSE_KIND_UNION,
}


def symbol_to_proto(info: SymbolInfo) -> universe_service_pb2.Symbol:
    """Symbol reference data to proto (market cap 0 when unknown)."""
    return universe_service_pb2.Symbol(
        symbol=info.symbol,
        name=info.name,
        exchange=info.exchange,
        market=info.market,
        type=info.type,
        sector=info.sector,
        industry=info.industry,
        active=info.active,
        market_cap=info.market_cap_usd or 0,
        currency=info.currency,
    )


def universe_to_proto(universe: Universe | UniverseSummary) -> universe_service_pb2.Universe:
    """A universe (with members) or its summary (without) to proto."""
    proto = universe_service_pb2.Universe(
        name=universe.name,
        description=universe.description,
        kind=_UNIVERSE_KINDS[universe.kind],
        member_count=universe.member_count,
    )
    if isinstance(universe, Universe):
        proto.symbols.extend(universe.symbols)
    return proto


def watchlist_to_proto(watchlist: Watchlist) -> universe_service_pb2.Watchlist:
    """A watchlist to proto."""
    return universe_service_pb2.Watchlist(
        watchlist_id=watchlist.watchlist_id,
        name=watchlist.name,
        symbols=watchlist.symbols,
        create_time=timestamp_from_ns(watchlist.create_ns),
        update_time=timestamp_from_ns(watchlist.update_ns),
    )
