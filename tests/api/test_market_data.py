"""MarketDataService.GetBars over the in-process server: validation, bucketing, paging tokens."""

from __future__ import annotations

import base64
import json

import grpc
import pytest
from api_server import ServerFactory
from factories import NS_PER_S, ns_at

from tickstock.v1 import market_data_service_pb2 as pb
from tickstock.v1 import market_data_service_pb2_grpc
from tickstock_server.adapters.memory.bars import MemoryBarReader
from tickstock_server.api.mappers._common import timestamp_from_ns
from tickstock_server.api.market_data_service import MarketDataServiceServicer
from tickstock_server.domain.bar import Bar

T0 = ns_at("2026-01-06T15:00:00")
MINUTE_NS = 60 * NS_PER_S
MARKET_DATA = "tickstock.v1.MarketDataService"
# The feed's clock, two days after the newest bar (a weekend, say): defaults must not look back from it.
MARKET_NOW = T0 + 2 * 86_400 * NS_PER_S


def _minute(offset: int, price: float) -> Bar:
    start_ns = T0 + offset * MINUTE_NS
    return Bar(
        symbol="AAPL", start_ns=start_ns, open=price, high=price, low=price, close=price, volume=10, ticks=1
    )


Client = tuple[market_data_service_pb2_grpc.MarketDataServiceStub, tuple[tuple[str, str], ...]]


@pytest.fixture
async def stub(start_api_server: ServerFactory) -> Client:
    reader = MemoryBarReader([_minute(offset, 100.0 + offset) for offset in range(12)])
    servicer = MarketDataServiceServicer(bars=reader, market_clock_ns=lambda: MARKET_NOW)
    api = await start_api_server(extra_servicers={MARKET_DATA: servicer})
    return market_data_service_pb2_grpc.MarketDataServiceStub(api.channel), api.metadata


def _request(**fields: object) -> pb.GetBarsRequest:
    request = pb.GetBarsRequest(
        symbol="AAPL", interval=pb.BAR_INTERVAL_5_MINUTES, start_time=timestamp_from_ns(T0),
        end_time=timestamp_from_ns(T0 + 60 * MINUTE_NS),
    )  # fmt: skip
    for name, value in fields.items():
        setattr(request, name, value)
    return request


async def test_get_bars_buckets_minutes_into_the_requested_interval(stub: Client) -> None:
    client, metadata = stub

    response = await client.GetBars(_request(), metadata=metadata)

    assert [(b.start_time.ToNanoseconds() - T0) // MINUTE_NS for b in response.bars] == [0, 5, 10]
    assert [(b.open, b.close, b.volume) for b in response.bars] == [(100.0, 104.0, 50), (105.0, 109.0, 50),
                                                                    (110.0, 111.0, 20)]  # fmt: skip
    assert response.next_page_token == ""


async def test_page_tokens_walk_every_bar_once(stub: Client) -> None:
    client, metadata = stub
    starts: list[int] = []
    token = ""
    while True:
        response = await client.GetBars(
            _request(interval=pb.BAR_INTERVAL_1_MINUTE, page_size=5, page_token=token), metadata=metadata
        )
        starts += [(b.start_time.ToNanoseconds() - T0) // MINUTE_NS for b in response.bars]
        token = response.next_page_token
        if not token:
            break

    assert starts == list(range(12))


@pytest.mark.parametrize(
    ("fields", "violated"),
    [
        ({"symbol": "not a symbol"}, "symbol"),
        ({"interval": pb.BAR_INTERVAL_UNSPECIFIED}, "interval"),
        ({"page_size": 10_001}, "page_size"),
        ({"start_time": timestamp_from_ns(T0 + 61 * MINUTE_NS)}, "start_time"),
        ({"page_token": "garbage"}, "page_token"),
    ],
)
async def test_invalid_request_names_the_field(
    stub: Client, fields: dict[str, object], violated: str
) -> None:
    client, metadata = stub
    request = _request()
    for name, value in fields.items():
        if name == "start_time":
            request.start_time.CopyFrom(value)  # type: ignore[arg-type]
        else:
            setattr(request, name, value)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.GetBars(request, metadata=metadata)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated in (caught.value.details() or "")


_OUT_OF_RANGE = "must be greater than or equal to 1970-01-01T00:00:00Z and less than 2100-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("field", "seconds", "nanos", "description"),
    [
        ("end_time", 10**12, 0, _OUT_OF_RANGE),  # year 33658
        ("end_time", -(10**12), 0, _OUT_OF_RANGE),
        ("start_time", 253_402_300_800, 0, _OUT_OF_RANGE),  # beyond protobuf's own range
        ("start_time", 0, -5, _OUT_OF_RANGE),
        ("end_time", 4_102_444_800, 0, _OUT_OF_RANGE),  # 2100-01-01
        ("start_time", 1_767_225_600, 1_000_000_000, "must be a time from 1970 to 2099"),  # nanos too big
    ],
)
async def test_out_of_range_times_are_invalid_argument_not_internal(
    stub: Client, field: str, seconds: int, nanos: int, description: str
) -> None:
    client, metadata = stub
    request = _request()
    getattr(request, field).seconds = seconds
    getattr(request, field).nanos = nanos

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.GetBars(request, metadata=metadata)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"{field}: {description}" in (caught.value.details() or "")


async def test_forged_token_with_huge_times_is_invalid_argument(stub: Client) -> None:
    client, metadata = stub
    body = {"s": "AAPL", "i": 300, "a": 10**30, "b": 10**30 + 1, "n": 0}
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).decode()
    request = pb.GetBarsRequest(symbol="AAPL", interval=pb.BAR_INTERVAL_5_MINUTES, page_token=forged)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.GetBars(request, metadata=metadata)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_token_of_another_request_is_rejected(stub: Client) -> None:
    client, metadata = stub
    first = await client.GetBars(_request(interval=pb.BAR_INTERVAL_1_MINUTE, page_size=2), metadata=metadata)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.GetBars(_request(symbol="MSFT", page_token=first.next_page_token), metadata=metadata)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_without_end_time_the_range_ends_after_the_symbols_newest_bar(stub: Client) -> None:
    client, metadata = stub

    response = await client.GetBars(
        pb.GetBarsRequest(symbol="AAPL", interval=pb.BAR_INTERVAL_1_MINUTE, page_size=5), metadata=metadata
    )

    assert [(b.start_time.ToNanoseconds() - T0) // MINUTE_NS for b in response.bars] == [7, 8, 9, 10, 11]
    assert response.next_page_token == ""


async def test_without_end_time_a_symbol_with_no_bars_gets_an_empty_page(stub: Client) -> None:
    client, metadata = stub

    response = await client.GetBars(
        pb.GetBarsRequest(symbol="MSFT", interval=pb.BAR_INTERVAL_1_MINUTE), metadata=metadata
    )

    assert list(response.bars) == []


async def test_default_range_pages_walk_every_bar_once(stub: Client) -> None:
    client, metadata = stub
    starts: list[int] = []
    token = ""
    while True:
        request = pb.GetBarsRequest(
            symbol="AAPL", interval=pb.BAR_INTERVAL_1_MINUTE, start_time=timestamp_from_ns(T0), page_size=5,
            page_token=token,
        )  # fmt: skip
        response = await client.GetBars(request, metadata=metadata)
        starts += [(b.start_time.ToNanoseconds() - T0) // MINUTE_NS for b in response.bars]
        token = response.next_page_token
        if not token:
            break

    assert starts == list(range(12))


async def test_token_of_another_range_is_rejected(stub: Client) -> None:
    client, metadata = stub
    first = await client.GetBars(_request(interval=pb.BAR_INTERVAL_1_MINUTE, page_size=2), metadata=metadata)
    request = _request(interval=pb.BAR_INTERVAL_1_MINUTE, page_size=2, page_token=first.next_page_token)
    request.end_time.CopyFrom(timestamp_from_ns(T0 + 30 * MINUTE_NS))

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.GetBars(request, metadata=metadata)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
