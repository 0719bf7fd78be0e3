"""PatternService over the in-process server: per-user stream limits and request bounds."""

from __future__ import annotations

import grpc
import pytest
from api_server import ApiServer, ServerFactory

from tickstock.v1 import pattern_service_pb2, pattern_service_pb2_grpc


async def _start(
    start_api_server: ServerFactory, max_streams: int
) -> tuple[ApiServer, pattern_service_pb2_grpc.PatternServiceStub]:
    api: ApiServer = await start_api_server(patterns=True, max_pattern_streams=max_streams)
    return api, api.patterns_stub()


async def test_a_user_cannot_open_more_pattern_streams_than_the_limit(
    start_api_server: ServerFactory,
) -> None:
    # Arrange: two streams open (each has sent its first heartbeat)
    api, stub = await _start(start_api_server, max_streams=2)
    request = pattern_service_pb2.StreamPatternsRequest()
    request.heartbeat_interval.FromSeconds(1)
    open_calls = [stub.StreamPatterns(request, metadata=api.metadata) for _ in range(2)]
    for call in open_calls:
        assert (await call.read()).WhichOneof("payload") == "heartbeat"

    # Act: a third
    third = stub.StreamPatterns(request, metadata=api.metadata)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await third.read()

    # Assert: refused; closing one frees its slot
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    open_calls[0].cancel()
    fourth = stub.StreamPatterns(request, metadata=api.metadata)
    for _ in range(50):  # the server notices the cancel asynchronously
        try:
            assert (await fourth.read()).WhichOneof("payload") == "heartbeat"
            break
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            fourth = stub.StreamPatterns(request, metadata=api.metadata)
    else:
        pytest.fail("the cancelled stream's slot was never freed")


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("symbols", [f"S{i}" for i in range(2_001)]),
        ("universes", [f"u{i}" for i in range(21)]),
        ("pattern_types", [f"P{i}" for i in range(101)]),
    ],
)
async def test_oversized_filter_lists_are_invalid_argument_before_any_work(
    start_api_server: ServerFactory, field: str, values: list[str]
) -> None:
    api, stub = await _start(start_api_server, max_streams=2)
    request = pattern_service_pb2.ScanPatternsRequest()
    getattr(request.filter, field).extend(values)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.ScanPatterns(request, metadata=api.metadata)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"filter.{field}: must contain no more than" in (raised.value.details() or "")


async def test_an_unknown_sort_order_is_invalid_argument(start_api_server: ServerFactory) -> None:
    # It used to be read as descending.
    api, stub = await _start(start_api_server, max_streams=2)
    request = pattern_service_pb2.ScanPatternsRequest(sort_order=99)  # type: ignore[arg-type]

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.ScanPatterns(request, metadata=api.metadata)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "sort_order: value must be one of the defined enum values" in (raised.value.details() or "")
