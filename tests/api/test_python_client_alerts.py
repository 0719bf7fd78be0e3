"""The Python client's pattern statistics, alert subscriptions and alert stream against the in-process
server (PatternService over the memory fakes, its clock pinned)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from api_server import MAX_ALERT_SUBSCRIPTIONS, PATTERN_SERVICE, ServerFactory, build_pattern_service
from pattern_api import NOW_NS, PatternApi, make_pattern, start_patterns
from polling import eventually

from tickstock.v1 import pattern_service_pb2 as pb
from tickstock_client import (
    Alert,
    AlertItem,
    AsyncClient,
    Client,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
)
from tickstock_server.errors import NotReadyError

NOW = datetime.fromtimestamp(NOW_NS / 10**9, UTC)


@pytest.fixture
async def patterns(start_api_server: ServerFactory) -> PatternApi:
    return await start_patterns(start_api_server)


@pytest.fixture
async def client(patterns: PatternApi) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(f"127.0.0.1:{patterns.api.port}", api_key=patterns.api.token) as client:
        yield client


async def test_pattern_stats_count_the_cache_by_type(patterns: PatternApi, client: AsyncClient) -> None:
    # Arrange
    patterns.put(
        make_pattern("s1", "AAPL", "Doji", age_s=5),
        make_pattern("s2", "MSFT", "Doji", age_s=1),
        make_pattern("s3", "IBM", "Bull_Flag", age_s=3),
    )

    # Act
    stats = await client.get_pattern_stats()

    # Assert
    assert (stats.cached_patterns, stats.patterns_by_type) == (3, {"Bull_Flag": 1, "Doji": 2})
    assert stats.last_event_time == NOW - timedelta(seconds=1)
    assert (stats.producer_heartbeat_age, stats.fallback_active) == (None, False)


async def test_a_subscription_is_created_listed_and_deleted(client: AsyncClient) -> None:
    # Act
    created = await client.create_alert_subscription(
        pattern_types=["Doji"],
        symbols=["msft"],
        universes=("chips",),
        min_confidence=0.7,
        quiet_hours=(time(22, 0), time(7, 30)),
        time_zone="America/New_York",
        max_alerts_per_hour=20,
    )
    listed = await client.list_alert_subscriptions()
    await client.delete_alert_subscription(created.subscription_id)
    after = await client.list_alert_subscriptions()

    # Assert: the server assigns the id and the time, and normalises the symbols
    assert created.subscription_id.startswith("alrt_")
    assert created.create_time == NOW
    assert (created.pattern_types, created.symbols, created.universes) == (("Doji",), ("MSFT",), ("chips",))
    assert (created.min_confidence, created.quiet_hours) == (0.7, (time(22, 0), time(7, 30)))
    assert (created.time_zone, created.max_alerts_per_hour) == ("America/New_York", 20)
    assert listed == [created]
    assert after == []


async def test_a_subscription_with_defaults_takes_the_servers(client: AsyncClient) -> None:
    # Act
    created = await client.create_alert_subscription()

    # Assert
    assert (created.time_zone, created.max_alerts_per_hour, created.quiet_hours) == ("UTC", 50, None)
    assert (created.pattern_types, created.symbols, created.universes) == ((), (), ())


@pytest.mark.parametrize(
    ("arguments", "fields"),
    [
        ({"symbols": ["AAPL", "not a ticker"]}, ["subscription.symbols[1]"]),
        ({"time_zone": "Mars/Olympus_Mons"}, ["subscription.time_zone"]),
        (
            {"universes": ["chips", "gone"], "time_zone": "Mars/Olympus_Mons"},
            ["subscription.time_zone", "subscription.universes[1]"],
        ),
        (  # past a declared limit: refused before the other checks
            {"universes": ["chips", "gone"], "min_confidence": 1.5},
            ["subscription.min_confidence"],
        ),
    ],
)
async def test_a_refused_subscription_raises_with_its_field_violations(
    client: AsyncClient, arguments: dict[str, Any], fields: list[str]
) -> None:
    # Act
    with pytest.raises(InvalidArgumentError) as raised:
        await client.create_alert_subscription(**arguments)

    # Assert
    assert [violation.field for violation in raised.value.field_violations] == fields
    assert await client.list_alert_subscriptions() == []


async def test_creating_beyond_the_limit_raises_resource_exhausted(client: AsyncClient) -> None:
    # Arrange
    for _ in range(MAX_ALERT_SUBSCRIPTIONS):
        await client.create_alert_subscription()

    # Act / Assert
    with pytest.raises(ResourceExhaustedError):
        await client.create_alert_subscription()


async def test_deleting_an_unknown_subscription_raises_not_found(client: AsyncClient) -> None:
    # Act / Assert
    with pytest.raises(NotFoundError):
        await client.delete_alert_subscription("alrt_" + "A" * 16)


async def test_stream_alerts_yields_an_alert_for_a_pattern_put_into_the_cache(
    patterns: PatternApi, client: AsyncClient
) -> None:
    # Arrange
    subscription = await client.create_alert_subscription(pattern_types=["Doji"], universes=["chips"])
    alerts = client.stream_alerts(heartbeat_interval=timedelta(seconds=1))
    first = asyncio.ensure_future(anext(alerts))
    await eventually(lambda: patterns.api.patterns.router.open_streams("alice") == 1)

    # Act
    patterns.put(make_pattern("a1", "AMD", "Bull_Flag"), make_pattern("a2", "NVDA", "Doji"))
    received = await asyncio.wait_for(first, 10)
    await alerts.aclose()

    # Assert
    assert isinstance(received, Alert)
    assert received.subscription_id == subscription.subscription_id
    assert (received.pattern.symbol, received.pattern.details.pattern_id) == ("NVDA", "a2")
    await eventually(lambda: patterns.api.patterns.router.open_streams("alice") == 0)


class _EndingAlertStreams:
    """PatternService whose alert streams send an alert and a notice, then end; the second fails at once
    with UNAVAILABLE, as a restarting server does."""

    def __init__(self) -> None:
        _, self._service = build_pattern_service(clock_ns=lambda: NOW_NS, max_streams=10)
        self.opened = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    async def StreamAlerts(  # noqa: N802 - gRPC method name
        self, request: pb.StreamAlertsRequest, context: object
    ) -> AsyncIterator[pb.StreamAlertsResponse]:
        self.opened += 1
        if self.opened == 2:
            raise NotReadyError("restarting")
        yield pb.StreamAlertsResponse(alert=pb.Alert(subscription_id=f"alrt_{self.opened}"))
        yield pb.StreamAlertsResponse(
            suppressed=pb.AlertsSuppressed(subscription_id=f"alrt_{self.opened}", rate_limited_count=2)
        )


async def test_stream_alerts_reopens_after_the_server_ends_it_or_is_unavailable(
    start_api_server: ServerFactory,
) -> None:
    # Arrange: the first stream ends, the second fails with UNAVAILABLE, the third delivers
    servicer = _EndingAlertStreams()
    api = await start_api_server(extra_servicers={PATTERN_SERVICE: servicer})

    # Act
    items: list[AlertItem] = []
    async with AsyncClient(f"127.0.0.1:{api.port}", api_key=api.token) as client:
        alerts = client.stream_alerts()
        async with asyncio.timeout(10):
            async for item in alerts:
                items.append(item)
                if len(items) == 4:
                    break
        await alerts.aclose()

    # Assert
    assert [(type(item).__name__, item.subscription_id) for item in items] == [
        ("Alert", "alrt_1"),
        ("AlertsSuppressed", "alrt_1"),
        ("Alert", "alrt_3"),
        ("AlertsSuppressed", "alrt_3"),
    ]
    assert servicer.opened == 3


async def test_the_blocking_client_lists_and_deletes_subscriptions(patterns: PatternApi) -> None:
    # Arrange
    def use_blocking_client() -> tuple[list[str], list[str], int]:
        with Client(f"127.0.0.1:{patterns.api.port}", api_key=patterns.api.token) as client:
            created = client.create_alert_subscription(symbols=["AAPL"], quiet_hours=(time(23), time(6)))
            listed = [s.subscription_id for s in client.list_alert_subscriptions()]
            client.delete_alert_subscription(created.subscription_id)
            after = [s.subscription_id for s in client.list_alert_subscriptions()]
            return [created.subscription_id], listed, len(after) + client.get_pattern_stats().cached_patterns

    # Act
    created, listed, remaining = await asyncio.to_thread(use_blocking_client)

    # Assert
    assert listed == created
    assert remaining == 0
