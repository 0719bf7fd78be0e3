"""Filter presets: save, list, delete, per-user isolation and limits, and streams that start from one."""

from __future__ import annotations

import grpc
import pytest
from api_server import ApiServer
from event_factories import make_event

from tickstock.v1 import event_service_pb2, events_pb2


def _preset(name: str, **filter_fields: object) -> event_service_pb2.SaveFilterPresetRequest:
    return event_service_pb2.SaveFilterPresetRequest(
        preset=event_service_pb2.FilterPreset(
            name=name,
            filter=event_service_pb2.EventFilter(**filter_fields),  # type: ignore[arg-type]
        )
    )


async def test_saved_preset_round_trips_and_lists_by_name(api: ApiServer) -> None:
    stub = api.events_stub()
    saved = await stub.SaveFilterPreset(
        _preset("momentum", universes=["chips"], event_types=[events_pb2.EVENT_TYPE_TREND], min_price=5.0),
        metadata=api.metadata,
    )
    await stub.SaveFilterPreset(_preset("aaa", symbols=["ibm"]), metadata=api.metadata)

    listed = await stub.ListFilterPresets(event_service_pb2.ListFilterPresetsRequest(), metadata=api.metadata)

    assert [p.name for p in listed.presets] == ["aaa", "momentum"]
    momentum = listed.presets[1].filter
    assert list(momentum.universes) == ["chips"]
    assert list(momentum.event_types) == [events_pb2.EVENT_TYPE_TREND]
    assert momentum.min_price == 5.0
    assert not momentum.HasField("max_price")
    assert list(listed.presets[0].filter.symbols) == ["IBM"]
    assert saved.preset.update_time.seconds > 0


async def test_other_users_never_see_or_delete_your_presets(api: ApiServer) -> None:
    stub = api.events_stub()
    await stub.SaveFilterPreset(_preset("mine", symbols=["AAPL"]), metadata=api.metadata)
    bob = (("authorization", f"Bearer {(await api.keys.create('bob')).token}"),)

    listed = await stub.ListFilterPresets(event_service_pb2.ListFilterPresetsRequest(), metadata=bob)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.DeleteFilterPreset(event_service_pb2.DeleteFilterPresetRequest(name="mine"), metadata=bob)

    assert list(listed.presets) == []
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_stream_from_a_preset_with_overriding_fields(api: ApiServer) -> None:
    stub = api.events_stub()
    await stub.SaveFilterPreset(
        _preset("dow", universes=["dow3"], event_types=[events_pb2.EVENT_TYPE_LOW]), metadata=api.metadata
    )
    # The request's event types replace the preset's; its universes stay.
    request = event_service_pb2.StreamEventsRequest(
        preset_name="dow", filter=event_service_pb2.EventFilter(event_types=[events_pb2.EVENT_TYPE_HIGH])
    )
    call = stub.StreamEvents(request, metadata=api.metadata)
    status = (await call.read()).subscription_status

    api.publish(make_event("NVDA"), make_event("MSFT"))
    batch = (await call.read()).event_batch

    assert list(status.symbols) == ["AAPL", "IBM", "MSFT"]
    assert [e.symbol for e in batch.events] == ["MSFT"]
    call.cancel()


async def test_invalid_presets_are_rejected_with_field_violations(api: ApiServer) -> None:
    stub = api.events_stub()
    with pytest.raises(grpc.aio.AioRpcError) as bad_name:
        await stub.SaveFilterPreset(_preset("no spaces", symbols=["AAPL"]), metadata=api.metadata)
    with pytest.raises(grpc.aio.AioRpcError) as unknown_universe:
        await stub.SaveFilterPreset(_preset("x", universes=["nope"]), metadata=api.metadata)
    with pytest.raises(grpc.aio.AioRpcError) as unknown_preset:
        await stub.StreamEvents(
            event_service_pb2.StreamEventsRequest(preset_name="missing"), metadata=api.metadata
        ).read()

    assert bad_name.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "preset.name" in (bad_name.value.details() or "")
    assert unknown_universe.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "preset.filter.universes" in (unknown_universe.value.details() or "")
    assert unknown_preset.value.code() == grpc.StatusCode.NOT_FOUND


async def test_preset_limit_is_resource_exhausted_but_replacing_is_allowed(api: ApiServer) -> None:
    stub = api.events_stub()
    for name in ("a", "b", "c"):  # the test server allows 3
        await stub.SaveFilterPreset(_preset(name, symbols=["AAPL"]), metadata=api.metadata)

    await stub.SaveFilterPreset(_preset("c", symbols=["MSFT"]), metadata=api.metadata)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.SaveFilterPreset(_preset("d", symbols=["AAPL"]), metadata=api.metadata)

    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
