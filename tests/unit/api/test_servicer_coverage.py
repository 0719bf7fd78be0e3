"""Every method of every `tickstock.v1` service is implemented by its servicer, with the exact name."""

from __future__ import annotations

import inspect

import pytest

from tickstock_server.api.auth_service import AuthServiceServicer
from tickstock_server.api.backtest_service import BacktestServiceServicer
from tickstock_server.api.event_service import EventServiceServicer
from tickstock_server.api.market_data_service import MarketDataServiceServicer
from tickstock_server.api.pattern_service import PatternServiceServicer
from tickstock_server.api.server import SERVICES, service_handler
from tickstock_server.api.universe_service import UniverseServiceServicer

SERVICERS: dict[str, type] = {
    "tickstock.v1.AuthService": AuthServiceServicer,
    "tickstock.v1.BacktestService": BacktestServiceServicer,
    "tickstock.v1.EventService": EventServiceServicer,
    "tickstock.v1.MarketDataService": MarketDataServiceServicer,
    "tickstock.v1.PatternService": PatternServiceServicer,
    "tickstock.v1.UniverseService": UniverseServiceServicer,
}


def test_every_service_has_a_servicer() -> None:
    assert sorted(service.full_name for service in SERVICES) == sorted(SERVICERS)


def _kind(behaviour: object) -> str:
    if inspect.isasyncgenfunction(behaviour):
        return "server stream"
    if not inspect.iscoroutinefunction(behaviour):
        return "missing"
    # A streaming method may write its responses itself (`context.write`): a coroutine returning None.
    writes = inspect.signature(behaviour).return_annotation in (None, "None")
    return "server stream" if writes else "unary"


@pytest.mark.parametrize("service", SERVICES, ids=lambda service: service.name)
def test_the_servicer_implements_every_method_with_its_shape(service: object) -> None:
    servicer = SERVICERS[service.full_name]  # type: ignore[attr-defined]
    methods = service.methods  # type: ignore[attr-defined]

    actual = {m.name: _kind(getattr(servicer, m.name, None)) for m in methods}

    assert actual == {m.name: "server stream" if m.server_streaming else "unary" for m in methods}


def test_a_servicer_missing_a_method_is_refused_when_the_server_is_built() -> None:
    class Misspelt:
        async def GetBar(self, request: object, context: object) -> None:  # noqa: N802 - gRPC method name
            """Not GetBars."""

    (market_data,) = (service for service in SERVICES if service.name == "MarketDataService")

    with pytest.raises(ValueError, match=r"does not implement tickstock.v1.MarketDataService: \['GetBars'\]"):
        service_handler(market_data, Misspelt())
