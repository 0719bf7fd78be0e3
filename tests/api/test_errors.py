"""Error mapping: domain errors to status codes with google.rpc details; unknown errors to INTERNAL."""

from __future__ import annotations

import math
from typing import Any

import grpc
import pytest
from api_server import ServerFactory
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tickstock.v1 import (
    event_service_pb2,
    market_data_service_pb2,
    market_data_service_pb2_grpc,
    pattern_service_pb2,
    pattern_service_pb2_grpc,
    universe_service_pb2,
    universe_service_pb2_grpc,
)


def _details(exc: grpc.aio.AioRpcError) -> dict[str, Any]:
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    assert status is not None
    found: dict[str, Any] = {}
    for detail in status.details:
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest, error_details_pb2.RetryInfo):
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                found[kind.DESCRIPTOR.name] = message
    return found


async def _stream_error(api: Any, request: event_service_pb2.StreamEventsRequest) -> grpc.aio.AioRpcError:
    call = api.events_stub().StreamEvents(request, metadata=api.metadata)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call.read()
    return raised.value


async def test_invalid_filter_is_invalid_argument_with_field_violations(
    start_api_server: ServerFactory,
) -> None:
    api = await start_api_server()
    request = event_service_pb2.StreamEventsRequest(
        filter=event_service_pb2.EventFilter(symbols=["AAPL", "not a symbol"], min_price=10, max_price=5)
    )
    request.delivery.heartbeat_interval.nanos = 500_000_000

    error = await _stream_error(api, request)

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = _details(error)
    fields = {v.field: v.description for v in details["BadRequest"].field_violations}
    assert set(fields) == {"filter.symbols[1]", "filter.max_price", "delivery.heartbeat_interval"}
    assert details["ErrorInfo"].reason == "INVALID_ARGUMENT"
    assert details["ErrorInfo"].domain == "tickstock.v1"


async def test_unknown_universe_and_watchlist_are_invalid_argument_naming_the_fields(
    start_api_server: ServerFactory,
) -> None:
    api = await start_api_server()
    request = event_service_pb2.StreamEventsRequest(
        filter=event_service_pb2.EventFilter(universes=["sp500"], watchlist_ids=["wl-1", "wl-2"])
    )

    error = await _stream_error(api, request)

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = {v.field for v in _details(error)["BadRequest"].field_violations}
    # wl-1 is alice's own; wl-2 is bob's and must look like it does not exist.
    assert fields == {"filter.universes", "filter.watchlist_ids[1]"}


async def test_service_without_servicer_answers_unimplemented(start_api_server: ServerFactory) -> None:
    api = await start_api_server()
    stub = universe_service_pb2_grpc.UniverseServiceStub(api.channel)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.ListUniverses(universe_service_pb2.ListUniversesRequest(), metadata=api.metadata)

    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "tickstock.v1.UniverseService.ListUniverses" in (raised.value.details() or "")
    assert _details(raised.value)["ErrorInfo"].reason == "NOT_SUPPORTED"


async def test_unimplemented_streaming_method_answers_unimplemented(start_api_server: ServerFactory) -> None:
    api = await start_api_server()
    stub = pattern_service_pb2_grpc.PatternServiceStub(api.channel)
    call = stub.StreamPatterns(pattern_service_pb2.StreamPatternsRequest(), metadata=api.metadata)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call.read()

    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


class _Broken:
    """A MarketDataService that fails with an unexpected error that carries private detail."""

    async def GetBars(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        raise RuntimeError("password=hunter2 at db.internal")


async def test_unexpected_error_is_internal_with_a_generic_message(start_api_server: ServerFactory) -> None:
    api = await start_api_server(extra_servicers={"tickstock.v1.MarketDataService": _Broken()})
    stub = market_data_service_pb2_grpc.MarketDataServiceStub(api.channel)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetBars(market_data_service_pb2.GetBarsRequest(), metadata=api.metadata)

    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert "hunter2" not in (raised.value.details() or "")
    assert "request id" in (raised.value.details() or "")
    assert _details(raised.value)["ErrorInfo"].reason == "INTERNAL"


async def test_request_id_from_client_is_echoed_in_headers(start_api_server: ServerFactory) -> None:
    api = await start_api_server(extra_servicers={"tickstock.v1.MarketDataService": _Broken()})
    stub = market_data_service_pb2_grpc.MarketDataServiceStub(api.channel)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetBars(
            market_data_service_pb2.GetBarsRequest(), metadata=(*api.metadata, ("x-request-id", "req-42"))
        )

    assert ("x-request-id", "req-42") in tuple(raised.value.initial_metadata() or ())
    assert "req-42" in (raised.value.details() or "")


async def test_a_huge_bad_value_is_echoed_cut_short_and_violations_are_capped(
    start_api_server: ServerFactory,
) -> None:
    # A 3 MB symbol once came back whole in grpc-message and twice in BadRequest: clients then refused
    # the oversized metadata with RESOURCE_EXHAUSTED instead of showing INVALID_ARGUMENT.
    api = await start_api_server()
    huge = "X" * 3_000_000
    request = event_service_pb2.StreamEventsRequest(
        filter=event_service_pb2.EventFilter(symbols=[huge, *(f"not a ticker {i:04d}" for i in range(30))])
    )

    error = await _stream_error(api, request)

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(error.details() or "") <= 1_000
    violations = _details(error)["BadRequest"].field_violations
    assert len(violations) == 21
    assert violations[0].field == "filter.symbols[0]"
    assert len(violations[0].description) <= 200
    assert violations[-1].description == "11 more field violations left out"


@pytest.mark.parametrize("value", [math.nan, math.inf])
@pytest.mark.parametrize("field", ["min_price", "max_price", "min_significance", "min_pattern_confidence"])
async def test_non_finite_filter_numbers_are_invalid_argument(
    start_api_server: ServerFactory, field: str, value: float
) -> None:
    # NaN compares false with everything: it used to pass every range check and then match nothing.
    api = await start_api_server()
    event_filter = event_service_pb2.EventFilter(**{field: value})

    stream_error = await _stream_error(api, event_service_pb2.StreamEventsRequest(filter=event_filter))
    with pytest.raises(grpc.aio.AioRpcError) as preset_error:
        await api.events_stub().SaveFilterPreset(
            event_service_pb2.SaveFilterPresetRequest(
                preset=event_service_pb2.FilterPreset(name="p", filter=event_filter)
            ),
            metadata=api.metadata,
        )

    for error, path in ((stream_error, f"filter.{field}"), (preset_error.value, f"preset.filter.{field}")):
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert {v.field for v in _details(error)["BadRequest"].field_violations} == {path}
