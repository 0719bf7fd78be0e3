"""PatternService's alert RPCs over the in-process server: subscriptions per user, and the alert stream."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from api_server import MAX_ALERT_SUBSCRIPTIONS, ServerFactory
from pattern_api import NOW_NS, Metadata, PatternApi, make_pattern, start_patterns, violations
from polling import eventually

from tickstock.v1 import common_pb2
from tickstock.v1 import pattern_service_pb2 as pb


@pytest.fixture
async def patterns(start_api_server: ServerFactory) -> PatternApi:
    """A PatternService with an empty cache and no subscriptions."""
    return await start_patterns(start_api_server)


async def _create(patterns: PatternApi, metadata: Metadata, **fields: Any) -> pb.AlertSubscription:
    response = await patterns.stub.CreateAlertSubscription(
        pb.CreateAlertSubscriptionRequest(subscription=pb.AlertSubscription(**fields)), metadata=metadata
    )
    return response.subscription


async def _list_ids(patterns: PatternApi, metadata: Metadata) -> list[str]:
    response = await patterns.stub.ListAlertSubscriptions(
        pb.ListAlertSubscriptionsRequest(), metadata=metadata
    )
    return [subscription.subscription_id for subscription in response.subscriptions]


async def _create_error(patterns: PatternApi, **fields: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _create(patterns, patterns.alice, **fields)
    return raised.value


async def _delete(patterns: PatternApi, metadata: Metadata, subscription_id: str) -> None:
    await patterns.stub.DeleteAlertSubscription(
        pb.DeleteAlertSubscriptionRequest(subscription_id=subscription_id), metadata=metadata
    )


# --- CreateAlertSubscription ----------------------------------------------------------------------------


async def test_create_returns_the_stored_subscription(patterns: PatternApi) -> None:
    # Act
    created = await _create(
        patterns,
        patterns.alice,
        pattern_types=["Doji"],
        symbols=[" msft"],
        universes=["chips"],
        min_confidence=0.7,
        quiet_hours=pb.QuietHours(
            start=common_pb2.TimeOfDay(hours=22), end=common_pb2.TimeOfDay(hours=7, minutes=30)
        ),
        time_zone="America/New_York",
    )

    # Assert: the server assigns the id, the time and the defaults
    assert created.subscription_id.startswith("alrt_")
    assert created.create_time.ToNanoseconds() == NOW_NS
    assert (list(created.pattern_types), list(created.symbols), list(created.universes)) == (
        ["Doji"],
        ["MSFT"],
        ["chips"],
    )
    assert (created.min_confidence, created.time_zone, created.max_alerts_per_hour) == (
        0.7,
        "America/New_York",
        50,
    )
    assert (created.quiet_hours.end.hours, created.quiet_hours.end.minutes) == (7, 30)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"symbols": ["AAPL", "not a ticker"]}, ["subscription.symbols[1]"]),
        ({"pattern_types": ["Doji", "Doji"]}, ["subscription.pattern_types[1]"]),
        ({"universes": ["Not Snake"]}, ["subscription.universes[0]"]),
        ({"universes": ["dow3", "no_such_universe"]}, ["subscription.universes[1]"]),
        ({"min_confidence": 1.5}, ["subscription.min_confidence"]),
        ({"time_zone": "Mars/Olympus_Mons"}, ["subscription.time_zone"]),
        ({"max_alerts_per_hour": 5000}, ["subscription.max_alerts_per_hour"]),
        (
            {
                "quiet_hours": pb.QuietHours(
                    start=common_pb2.TimeOfDay(hours=25), end=common_pb2.TimeOfDay(minutes=60)
                )
            },
            ["subscription.quiet_hours.start.hours", "subscription.quiet_hours.end.minutes"],
        ),
        (
            {"symbols": ["1X"], "time_zone": "Mars/Olympus_Mons", "universes": ["nope"]},
            ["subscription.symbols[0]", "subscription.time_zone", "subscription.universes[0]"],
        ),
        (  # the proto's limits first: the other fields are not checked then
            {"symbols": ["1X"], "min_confidence": -0.1, "universes": ["nope"]},
            ["subscription.min_confidence"],
        ),
    ],
)
async def test_invalid_subscription_is_invalid_argument_with_field_violations(
    patterns: PatternApi, fields: dict[str, Any], expected: list[str]
) -> None:
    # Act
    error = await _create_error(patterns, **fields)

    # Assert
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(error) == expected
    assert await _list_ids(patterns, patterns.alice) == []


async def test_an_unknown_universe_names_its_index_and_name(patterns: PatternApi) -> None:
    # Act
    error = await _create_error(patterns, universes=["chips", "gone"])

    # Assert
    assert "subscription.universes[1]: unknown universe 'gone'" in (error.details() or "")


async def test_create_beyond_the_per_user_limit_is_resource_exhausted(patterns: PatternApi) -> None:
    # Arrange
    for _ in range(MAX_ALERT_SUBSCRIPTIONS):
        await _create(patterns, patterns.alice)

    # Act
    error = await _create_error(patterns)

    # Assert: the limit is per user
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"a user may have at most {MAX_ALERT_SUBSCRIPTIONS} alert subscriptions" in (error.details() or "")
    assert (await _create(patterns, patterns.bob)).subscription_id


# --- ListAlertSubscriptions and DeleteAlertSubscription -----------------------------------------------


async def test_each_user_lists_only_their_own_subscriptions_oldest_first(patterns: PatternApi) -> None:
    # Arrange
    first = await _create(patterns, patterns.alice, symbols=["AAPL"])
    bobs = await _create(patterns, patterns.bob)
    second = await _create(patterns, patterns.alice, symbols=["MSFT"])

    # Act
    alices_ids, bobs_ids = await _list_ids(patterns, patterns.alice), await _list_ids(patterns, patterns.bob)

    # Assert
    assert alices_ids == [first.subscription_id, second.subscription_id]
    assert bobs_ids == [bobs.subscription_id]


async def test_delete_removes_the_subscription(patterns: PatternApi) -> None:
    # Arrange
    kept = await _create(patterns, patterns.alice, symbols=["AAPL"])
    deleted = await _create(patterns, patterns.alice, symbols=["MSFT"])

    # Act
    await _delete(patterns, patterns.alice, deleted.subscription_id)

    # Assert
    assert await _list_ids(patterns, patterns.alice) == [kept.subscription_id]


@pytest.mark.parametrize(
    "subscription_id",
    ["bob's", "deleted", "alrt_" + "A" * 16, "alrt_x", "", "' OR 1=1 --"],
    ids=["another user's", "already deleted", "unknown", "malformed", "empty", "injection"],
)
async def test_deleting_what_the_caller_does_not_own_is_not_found(
    patterns: PatternApi, subscription_id: str
) -> None:
    # Arrange
    bobs = await _create(patterns, patterns.bob)
    deleted = await _create(patterns, patterns.alice)
    await _delete(patterns, patterns.alice, deleted.subscription_id)
    subscription_id = {"bob's": bobs.subscription_id, "deleted": deleted.subscription_id}.get(
        subscription_id, subscription_id
    )

    # Act
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _delete(patterns, patterns.alice, subscription_id)

    # Assert: bob's subscription is untouched and invisible to alice
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert await _list_ids(patterns, patterns.bob) == [bobs.subscription_id]
    assert await _list_ids(patterns, patterns.alice) == []


# --- StreamAlerts -------------------------------------------------------------------------------------


async def test_a_matching_pattern_put_into_the_cache_reaches_the_owners_alert_stream(
    patterns: PatternApi,
) -> None:
    # Arrange: alice watches Doji on the chips universe; bob watches everything
    alices = await _create(patterns, patterns.alice, pattern_types=["Doji"], universes=["chips"])
    await _create(patterns, patterns.bob)
    request = pb.StreamAlertsRequest()
    request.heartbeat_interval.FromSeconds(1)
    call = patterns.stub.StreamAlerts(request, metadata=patterns.alice)
    await eventually(lambda: patterns.api.patterns.router.open_streams("alice") == 1)

    # Act
    patterns.put(
        make_pattern("a1", "AMD", "Bull_Flag"),
        make_pattern("a2", "IBM", "Doji"),
        make_pattern("a3", "NVDA", "Doji"),
    )
    received = await call.read()
    call.cancel()

    # Assert
    assert received.WhichOneof("payload") == "alert"
    assert received.alert.subscription_id == alices.subscription_id
    assert (received.alert.pattern.symbol, received.alert.pattern.details.pattern_id) == ("NVDA", "a3")


async def test_a_deleted_subscription_alerts_no_more(patterns: PatternApi) -> None:
    # Arrange
    deleted = await _create(patterns, patterns.alice, symbols=["AAPL"])
    kept = await _create(patterns, patterns.alice, symbols=["MSFT"])
    await _delete(patterns, patterns.alice, deleted.subscription_id)
    call = patterns.stub.StreamAlerts(pb.StreamAlertsRequest(), metadata=patterns.alice)
    await eventually(lambda: patterns.api.patterns.router.open_streams("alice") == 1)

    # Act
    patterns.put(make_pattern("b1", "AAPL"), make_pattern("b2", "MSFT"))
    received = await call.read()
    call.cancel()

    # Assert
    assert (received.alert.subscription_id, received.alert.pattern.details.pattern_id) == (
        kept.subscription_id,
        "b2",
    )


@pytest.mark.parametrize("heartbeat", [{"nanos": 999_999_999}, {"seconds": 61}])
async def test_alert_stream_heartbeat_out_of_range_is_invalid_argument(
    patterns: PatternApi, heartbeat: dict[str, int]
) -> None:
    # Arrange
    call = patterns.stub.StreamAlerts(
        pb.StreamAlertsRequest(heartbeat_interval=heartbeat), metadata=patterns.alice
    )

    # Act
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call.read()

    # Assert
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(raised.value) == ["heartbeat_interval"]
