"""The Python client's pattern scan (every page, in order), pattern stream and filter presets, against
the in-process server."""

from __future__ import annotations

import asyncio
import time

import pytest
from api_server import ApiServer, ServerFactory

from tickstock_client import (
    AsyncClient,
    EventFilter,
    EventType,
    NotFoundError,
    PatternFilter,
    PatternSort,
)
from tickstock_server.domain.patterns import Pattern, PatternSource

HOUR_NS = 3600 * 10**9


def pattern(number: int, symbol: str = "AAPL") -> Pattern:
    now_ns = time.time_ns()
    return Pattern(
        pattern_id=f"p-{number}",
        symbol=symbol,
        pattern_type="Bull_Flag",
        confidence=round(0.5 + number / 100, 2),
        price=100.0 + number,
        price_change_pct=1.0,
        detected_ns=now_ns,
        expires_ns=now_ns + HOUR_NS,
        timeframe=None,
        source=PatternSource.PRODUCER,
    )


async def start(start_api_server: ServerFactory) -> ApiServer:
    api: ApiServer = await start_api_server(patterns=True)
    return api


async def test_scan_patterns_walks_every_page_in_the_requested_order(start_api_server: ServerFactory) -> None:
    api = await start(start_api_server)
    for number in range(7):
        api.patterns.cache.put(pattern(number, symbol="MSFT" if number == 3 else "AAPL"))

    async with AsyncClient(f"127.0.0.1:{api.port}", api_key=api.token) as client:
        ascending = [
            p
            async for p in client.scan_patterns(sort_by=PatternSort.CONFIDENCE, descending=False, page_size=2)
        ]
        aapl = [p async for p in client.scan_patterns(PatternFilter(symbols=("AAPL",)), page_size=4)]

    assert [p.details.pattern_id for p in ascending] == [f"p-{n}" for n in range(7)]
    assert [p.details.confidence for p in aapl] == [0.56, 0.55, 0.54, 0.52, 0.51, 0.5]
    assert {p.symbol for p in aapl} == {"AAPL"}


async def test_stream_patterns_delivers_new_patterns_of_the_filter(start_api_server: ServerFactory) -> None:
    api = await start(start_api_server)
    cache = api.patterns.cache

    async with AsyncClient(f"127.0.0.1:{api.port}", api_key=api.token) as client:
        patterns = client.stream_patterns(PatternFilter(symbols=("MSFT",)))
        first = asyncio.ensure_future(anext(patterns))
        await asyncio.sleep(0.3)  # the stream is open
        cache.put(pattern(1, symbol="AAPL"))
        cache.put(pattern(2, symbol="MSFT"))
        received = await asyncio.wait_for(first, 10)
        await patterns.aclose()

    assert (received.symbol, received.details.pattern_id) == ("MSFT", "p-2")


async def test_a_filter_preset_round_trips(api: ApiServer) -> None:
    chips = EventFilter(symbols=("NVDA", "AMD"), event_types=(EventType.TREND,), min_price=10.0)

    async with AsyncClient(f"127.0.0.1:{api.port}", api_key=api.token) as client:
        saved = await client.save_filter_preset("chips", chips)
        listed = await client.list_filter_presets()
        await client.delete_filter_preset("chips")
        after = await client.list_filter_presets()
        with pytest.raises(NotFoundError):
            await client.delete_filter_preset("chips")

    assert saved.filter == chips
    assert [p.name for p in listed] == ["chips"]
    assert after == []
