"""RPC metrics over a real channel: unary latency by method and code, a stream's first message, duration,
end code and open count, and a bounded `method` label."""

from __future__ import annotations

import contextlib

import grpc
import pytest
from api_server import ApiServer
from grpc_health.v1 import health_pb2, health_pb2_grpc
from polling import eventually

from tickstock.v1 import event_service_pb2
from tickstock_server.api.rpc_metrics import UNKNOWN_METHOD, final_code
from tickstock_server.api.server import SERVICES, served_methods

_LIST_PRESETS = "/tickstock.v1.EventService/ListFilterPresets"
_STREAM_EVENTS = "/tickstock.v1.EventService/StreamEvents"


async def _settled(api: ApiServer, name: str, expected: dict[tuple[str, ...], float]) -> None:
    """Assert `name`'s counts become `expected`: the server records a call after its client has the answer."""
    with contextlib.suppress(TimeoutError):
        await eventually(lambda: _counts(api, name) == expected, timeout_s=5)
    assert _counts(api, name) == expected


def _counts(api: ApiServer, name: str) -> dict[tuple[str, ...], float]:
    """Observations (a histogram's count, a gauge's value) of metric `name` by its label values."""
    found = {}
    for sample in api.rpc_metrics.metric_samples():
        if sample.name == name:
            found[tuple(sample.labels.values())] = sample.buckets[-1][1] if sample.buckets else sample.value
    return found


async def test_unary_calls_are_timed_by_method_and_final_code(api: ApiServer) -> None:
    stub = api.events_stub()
    await stub.ListFilterPresets(event_service_pb2.ListFilterPresetsRequest(), metadata=api.metadata)
    await stub.ListFilterPresets(event_service_pb2.ListFilterPresetsRequest(), metadata=api.metadata)
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.ListFilterPresets(event_service_pb2.ListFilterPresetsRequest())  # no key
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.DeleteFilterPreset(event_service_pb2.DeleteFilterPresetRequest(), metadata=api.metadata)

    await _settled(
        api,
        "tickstock_rpc_duration_seconds",
        {
            (_LIST_PRESETS, "OK"): 2,
            (_LIST_PRESETS, "UNAUTHENTICATED"): 1,
            ("/tickstock.v1.EventService/DeleteFilterPreset", "INVALID_ARGUMENT"): 1,
        },
    )


async def test_a_stream_counts_its_first_message_its_end_code_and_while_open(api: ApiServer) -> None:
    call = api.events_stub().StreamEvents(event_service_pb2.StreamEventsRequest(), metadata=api.metadata)
    await call.read()  # the subscription status

    assert _counts(api, "tickstock_rpc_stream_first_message_seconds") == {(_STREAM_EVENTS,): 1}
    assert _counts(api, "tickstock_rpc_streams_open") == {(_STREAM_EVENTS,): 1}
    assert _counts(api, "tickstock_rpc_stream_duration_seconds") == {}

    call.cancel()

    await _settled(api, "tickstock_rpc_streams_open", {(_STREAM_EVENTS,): 0})
    assert _counts(api, "tickstock_rpc_stream_duration_seconds") == {(_STREAM_EVENTS, "CANCELLED"): 1}
    assert _counts(api, "tickstock_rpc_duration_seconds") == {}  # a stream is not a unary latency


async def test_a_stream_refused_before_its_first_message_has_no_first_message_time(api: ApiServer) -> None:
    call = api.events_stub().StreamEvents(event_service_pb2.StreamEventsRequest())  # no key

    with pytest.raises(grpc.aio.AioRpcError):
        await call.read()

    await _settled(api, "tickstock_rpc_stream_duration_seconds", {(_STREAM_EVENTS, "UNAUTHENTICATED"): 1})
    assert _counts(api, "tickstock_rpc_stream_first_message_seconds") == {}


async def test_calls_to_unknown_methods_share_one_label(api: ApiServer) -> None:
    for name in ("/tickstock.v1.NoSuchService/Get", "/x/y", "/tickstock.v1.EventService/Nope"):
        call = api.channel.unary_unary(name, request_serializer=bytes, response_deserializer=bytes)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call(b"", metadata=api.metadata)
        assert raised.value.code() is grpc.StatusCode.UNIMPLEMENTED

    await _settled(api, "tickstock_rpc_duration_seconds", {(UNKNOWN_METHOD, "UNIMPLEMENTED"): 3})


async def test_health_checks_are_labelled_by_their_own_method(api: ApiServer) -> None:
    await health_pb2_grpc.HealthStub(api.channel).Check(health_pb2.HealthCheckRequest())

    await _settled(api, "tickstock_rpc_duration_seconds", {("/grpc.health.v1.Health/Check", "OK"): 1})
    assert "/grpc.health.v1.Health/Check" in served_methods()


def test_the_method_labels_are_every_served_method_and_nothing_else() -> None:
    methods = served_methods()

    expected = {f"/{s.full_name}/{m.name}" for s in SERVICES for m in s.methods}
    assert expected <= set(methods)
    assert set(methods) - expected == {
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/List",
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    }
    assert len(methods) == len(set(methods))


@pytest.mark.parametrize(
    ("code", "returned", "cancelled", "final"),
    [
        (None, True, False, grpc.StatusCode.OK),
        (grpc.StatusCode.NOT_FOUND, False, False, grpc.StatusCode.NOT_FOUND),
        (None, False, True, grpc.StatusCode.CANCELLED),
        (None, False, False, grpc.StatusCode.UNKNOWN),
    ],
)
def test_a_calls_code_is_its_contexts_else_how_it_ended(
    code: grpc.StatusCode | None, returned: bool, cancelled: bool, final: grpc.StatusCode
) -> None:
    assert final_code(code, returned=returned, cancelled=cancelled) is final
