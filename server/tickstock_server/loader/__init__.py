"""Historical loader: backfills daily and minute bars and ticker reference data from the Massive REST API."""

from tickstock_server.loader.backfill import (
    Backfill,
    BackfillRequest,
    BackfillSummary,
    Chunk,
    ChunkKind,
    HistoricalSource,
    LoadError,
    plan_chunks,
)
from tickstock_server.loader.massive_rest import (
    DailyBar,
    MassiveRestClient,
    MassiveRestError,
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
