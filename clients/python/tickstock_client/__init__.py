"""Python client of the TickStock gRPC API, and the `tickstock` command line.

    import asyncio
    from tickstock_client import AsyncClient, EventFilter, Event, api_key_from_environment

    async def main() -> None:
        async with AsyncClient("localhost:50051", api_key=api_key_from_environment()) as client:
            async for item in client.stream_events(EventFilter(symbols=("AAPL", "MSFT"))):
                print(item)  # Event, or a Gap / Dropped / ReplayCompleted notice

    asyncio.run(main())

The stream reconnects and resumes by itself (server restarts, dropped connections, rotation hints), so
it delivers every event once and in order, and says so whenever the server cannot replay something.
"""

from tickstock_client._backtest_models import (
    Backtest,
    BacktestParameters,
    BacktestResult,
    BacktestState,
)
from tickstock_client._client import DEFAULT_TARGET, AsyncClient, api_key_from_environment
from tickstock_client._errors import (
    AlreadyExistsError,
    FieldViolation,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    TickstockError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
)
from tickstock_client._models import (
    Bar,
    BarInterval,
    Direction,
    Dropped,
    Event,
    EventFilter,
    EventType,
    FilterPreset,
    Gap,
    GapReason,
    HighLowDetails,
    MarketStatus,
    Pattern,
    PatternDetails,
    PatternFilter,
    PatternSort,
    ReplayCompleted,
    ResumeToken,
    SessionToken,
    StreamItem,
    SurgeDetails,
    SurgeStrength,
    Symbol,
    TrendDetails,
    TrendStrength,
    Universe,
    Watchlist,
)
from tickstock_client._pattern_models import (
    Alert,
    AlertItem,
    AlertsSuppressed,
    AlertSubscription,
    PatternStats,
)
from tickstock_client._streaming import EventStream
from tickstock_client._sync import Client, SyncEventStream
from tickstock_client._tls import tls_credentials

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TARGET",
    "Alert",
    "AlertItem",
    "AlertSubscription",
    "AlertsSuppressed",
    "AlreadyExistsError",
    "AsyncClient",
    "Backtest",
    "BacktestParameters",
    "BacktestResult",
    "BacktestState",
    "Bar",
    "BarInterval",
    "Client",
    "Direction",
    "Dropped",
    "Event",
    "EventFilter",
    "EventStream",
    "EventType",
    "FieldViolation",
    "FilterPreset",
    "Gap",
    "GapReason",
    "HighLowDetails",
    "InternalError",
    "InvalidArgumentError",
    "MarketStatus",
    "NotFoundError",
    "Pattern",
    "PatternDetails",
    "PatternFilter",
    "PatternSort",
    "PatternStats",
    "PermissionDeniedError",
    "ReplayCompleted",
    "ResourceExhaustedError",
    "ResumeToken",
    "SessionToken",
    "StreamItem",
    "SurgeDetails",
    "SurgeStrength",
    "Symbol",
    "SyncEventStream",
    "TickstockError",
    "TrendDetails",
    "TrendStrength",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "Universe",
    "Watchlist",
    "api_key_from_environment",
    "tls_credentials",
]
