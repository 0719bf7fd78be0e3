"""UniverseService servicer: symbols, universes and the caller's watchlists. Parse, call, map."""

from __future__ import annotations

from tickstock.v1 import universe_service_pb2 as pb
from tickstock_server.api.auth import current_principal
from tickstock_server.api.interceptors import Context
from tickstock_server.api.mappers import universe_service as mappers
from tickstock_server.universes.service import UniverseCatalog, Watchlists


class UniverseServiceServicer:
    """Serves `tickstock.v1.UniverseService`; watchlists are always the authenticated caller's."""

    def __init__(self, *, universes: UniverseCatalog, watchlists: Watchlists) -> None:
        self._universes = universes
        self._watchlists = watchlists

    async def ListSymbols(self, request: pb.ListSymbolsRequest, context: Context) -> pb.ListSymbolsResponse:  # noqa: N802
        """Search symbols by ticker prefix or name, with market/type filters and page tokens."""
        query = mappers.parse_list_symbols(request)
        page = await self._universes.list_symbols(query.search, after=query.after, limit=query.limit)
        token = mappers.symbols_page_token(request, page.symbols[-1].symbol) if page.has_more else ""
        return pb.ListSymbolsResponse(
            symbols=[mappers.symbol_to_proto(info) for info in page.symbols], next_page_token=token
        )

    async def GetSymbol(self, request: pb.GetSymbolRequest, context: Context) -> pb.GetSymbolResponse:  # noqa: N802
        """One symbol's reference data."""
        info = await self._universes.get_symbol(mappers.parse_symbol(request))
        return pb.GetSymbolResponse(symbol=mappers.symbol_to_proto(info))

    async def ListUniverses(  # noqa: N802
        self, request: pb.ListUniversesRequest, context: Context
    ) -> pb.ListUniversesResponse:
        """Every universe with its member count (members omitted)."""
        summaries = await self._universes.list_universes()
        return pb.ListUniversesResponse(
            universes=[mappers.universe_to_proto(summary) for summary in summaries]
        )

    async def GetUniverse(self, request: pb.GetUniverseRequest, context: Context) -> pb.GetUniverseResponse:  # noqa: N802
        """One universe with its members; "a:b" is the union of a and b."""
        universe = await self._universes.get_universe(request.name)
        return pb.GetUniverseResponse(universe=mappers.universe_to_proto(universe))

    async def CreateWatchlist(  # noqa: N802
        self, request: pb.CreateWatchlistRequest, context: Context
    ) -> pb.CreateWatchlistResponse:
        """Create a watchlist of the caller."""
        watchlist = await self._watchlists.create(
            current_principal().user, request.watchlist.name, tuple(request.watchlist.symbols)
        )
        return pb.CreateWatchlistResponse(watchlist=mappers.watchlist_to_proto(watchlist))

    async def ListWatchlists(  # noqa: N802
        self, request: pb.ListWatchlistsRequest, context: Context
    ) -> pb.ListWatchlistsResponse:
        """The caller's watchlists."""
        watchlists = await self._watchlists.list(current_principal().user)
        return pb.ListWatchlistsResponse(watchlists=[mappers.watchlist_to_proto(item) for item in watchlists])

    async def GetWatchlist(  # noqa: N802 - gRPC method name
        self, request: pb.GetWatchlistRequest, context: Context
    ) -> pb.GetWatchlistResponse:
        """One of the caller's watchlists; another user's is NOT_FOUND."""
        watchlist = await self._watchlists.get(current_principal().user, request.watchlist_id)
        return pb.GetWatchlistResponse(watchlist=mappers.watchlist_to_proto(watchlist))

    async def UpdateWatchlist(  # noqa: N802
        self, request: pb.UpdateWatchlistRequest, context: Context
    ) -> pb.UpdateWatchlistResponse:
        """Replace the name and/or symbols named by the update mask (empty mask: both)."""
        changes = mappers.parse_watchlist_changes(request)
        watchlist = await self._watchlists.update(
            current_principal().user, changes.watchlist_id, name=changes.name, symbols=changes.symbols
        )
        return pb.UpdateWatchlistResponse(watchlist=mappers.watchlist_to_proto(watchlist))

    async def DeleteWatchlist(  # noqa: N802
        self, request: pb.DeleteWatchlistRequest, context: Context
    ) -> pb.DeleteWatchlistResponse:
        """Delete one of the caller's watchlists; another user's is NOT_FOUND."""
        await self._watchlists.delete(current_principal().user, request.watchlist_id)
        return pb.DeleteWatchlistResponse()
