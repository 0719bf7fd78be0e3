"""The client's public names are a deliberate list: adding or removing one is a visible decision."""

from __future__ import annotations

import inspect

import tickstock_client

PUBLIC = {
    "Alert", "AlertItem", "AlertSubscription", "AlertsSuppressed", "AlreadyExistsError", "AsyncClient",
    "Backtest", "BacktestParameters", "BacktestResult", "BacktestState", "Bar", "BarInterval", "Client",
    "DEFAULT_TARGET", "Direction", "Dropped", "Event", "EventFilter", "EventStream", "EventType",
    "FieldViolation", "FilterPreset", "Gap", "GapReason", "HighLowDetails", "InternalError",
    "InvalidArgumentError", "MarketStatus", "NotFoundError", "Pattern", "PatternDetails", "PatternFilter",
    "PatternSort", "PatternStats", "PermissionDeniedError", "ReplayCompleted", "ResourceExhaustedError",
    "ResumeToken", "SessionToken", "StreamItem", "SurgeDetails", "SurgeStrength", "Symbol",
    "SyncEventStream", "TickstockError", "TrendDetails", "TrendStrength", "UnauthenticatedError",
    "UnavailableError", "UnimplementedError", "Universe", "Watchlist", "api_key_from_environment",
    "tls_credentials",
}  # fmt: skip


def test_all_is_exactly_the_public_api_and_every_name_resolves() -> None:
    assert set(tickstock_client.__all__) == PUBLIC
    assert len(tickstock_client.__all__) == len(PUBLIC)
    assert all(getattr(tickstock_client, name, None) is not None for name in PUBLIC)


def test_nothing_else_is_public_but_the_cli_module() -> None:
    # Submodules show as attributes once imported (the `tickstock` command imports `cli`).
    names = {name for name in dir(tickstock_client) if not name.startswith("_")}
    modules = {name for name in names if inspect.ismodule(getattr(tickstock_client, name))}

    assert names - modules == PUBLIC
    assert modules <= {"cli"}
