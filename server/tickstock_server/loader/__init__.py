"""Historical loader: backfills daily and minute bars and ticker reference data from the Massive REST API."""

from tickstock_server.errors import LoadError, MassiveRestError
from tickstock_server.loader.backfill import (
    Backfill,
    BackfillRequest,
    BackfillSummary,
    HistoricalSource,
)
from tickstock_server.loader.chunks import Chunk, ChunkKind, plan_chunks
from tickstock_server.loader.massive_rest import (
    DailyBar,
    MassiveRestClient,
    RestRetryPolicy,
    TickerReference,
)

__all__ = [
    "Backfill",
    "BackfillRequest",
    "BackfillSummary",
    "Chunk",
    "ChunkKind",
    "DailyBar",
    "HistoricalSource",
    "LoadError",
    "MassiveRestClient",
    "MassiveRestError",
    "RestRetryPolicy",
    "TickerReference",
    "plan_chunks",
]
