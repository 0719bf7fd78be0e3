"""Conversions of `universe_service.proto`: requests checked, symbols, universes, watchlists, page tokens."""

from __future__ import annotations

from dataclasses import dataclass

from tickstock.v1 import universe_service_pb2
from tickstock_server.api.mappers._common import (
    decode_page_token,
    encode_page_token,
    request_binding,
    timestamp_from_ns,
)
from tickstock_server.domain.universes import (
    SymbolInfo,
    SymbolSearch,
    Universe,
    UniverseKind,
    UniverseSummary,
    Watchlist,
)
from tickstock_server.errors import FieldViolation, InvalidRequestError

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


DEFAULT_PAGE_SIZE = 100
"""Symbols per page when the request gives no page size (the proto bounds it to 1000)."""

_BAD_SYMBOLS_PAGE_TOKEN = "is not a page token of a previous response with the same query, market and type"
_UPDATABLE = frozenset({"name", "symbols"})


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolsPageRequest:
    """A checked ListSymbols request: what to search, and which page."""

    search: SymbolSearch
    limit: int
    """Most symbols in the page, 1 to 1000."""
    after: str | None
    """The last ticker of the previous page; None for the first page."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchlistChanges:
    """A checked UpdateWatchlist request: the watchlist, and the fields to replace (None: keep)."""

    watchlist_id: str
    name: str | None
    symbols: tuple[str, ...] | None


def list_symbols_violations(request: universe_service_pb2.ListSymbolsRequest) -> list[FieldViolation]:
    """The text fields of a ListSymbols request that hold control characters (a NUL byte once gave INTERNAL).

    Their lengths are bounded by the proto's rules, checked before any handler runs (a 1 MB query once
    took 6.5 s of PostgreSQL time).
    """
    return [
        FieldViolation(name, "must not contain control characters")
        for name in ("query", "market", "type", "page_token")
        if not getattr(request, name).isprintable()
    ]


def parse_list_symbols(request: universe_service_pb2.ListSymbolsRequest) -> SymbolsPageRequest:
    """The search and page of a ListSymbols request that passed its proto's rules.

    Raises:
        InvalidRequestError: In this order: control characters; a page token that is malformed or was
            issued for another query, market or type.
    """
    violations = list_symbols_violations(request)
    if violations:
        raise InvalidRequestError(violations)
    after = _symbols_cursor(request) if request.page_token else None
    return SymbolsPageRequest(
        search=SymbolSearch(query=request.query, market=request.market, symbol_type=request.type),
        limit=request.page_size or DEFAULT_PAGE_SIZE,
        after=after,
    )


def symbols_page_token(request: universe_service_pb2.ListSymbolsRequest, last_symbol: str) -> str:
    """The token of the page after `last_symbol`, valid only with the same query, market and type."""
    return encode_page_token(request_binding(request), (last_symbol,))


def _symbols_cursor(request: universe_service_pb2.ListSymbolsRequest) -> str:
    try:
        (after,) = decode_page_token(request.page_token, request_binding(request), (str,))
    except InvalidRequestError as exc:
        # The shared codec's check, with the description ListSymbols has always given.
        raise InvalidRequestError([FieldViolation("page_token", _BAD_SYMBOLS_PAGE_TOKEN)]) from exc
    return str(after)


def parse_symbol(request: universe_service_pb2.GetSymbolRequest) -> str:
    """The ticker a GetSymbol request names, trimmed and upper-cased (the catalog checks its syntax)."""
    return request.symbol.strip().upper()


def parse_watchlist_changes(request: universe_service_pb2.UpdateWatchlistRequest) -> WatchlistChanges:
    """The fields an UpdateWatchlist request replaces: those of its update mask (empty mask: both).

    The proto's rules allow only the paths "name" and "symbols" in the mask.
    """
    paths = set(request.update_mask.paths) or set(_UPDATABLE)
    watchlist = request.watchlist
    return WatchlistChanges(
        watchlist_id=watchlist.watchlist_id,
        name=watchlist.name if "name" in paths else None,
        symbols=tuple(watchlist.symbols) if "symbols" in paths else None,
    )
