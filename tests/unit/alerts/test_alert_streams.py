"""Alert streams: delivery, suppression notices, heartbeats, ends, and behaviour under load."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from alert_fixtures import (
    HEARTBEAT_S,
    NOW_NS,
    drain,
    make_pattern,
    make_router,
    make_subscription,
    quiet,
    resolve,
)
from factories import ns_at

from tickstock_server.alerts.router import AlertRouter
from tickstock_server.alerts.stream import (
    AlertStreamEnd,
    AlertStreamEnded,
    AlertStreamItem,
)
from tickstock_server.domain.alerts import (
    Alert,
    AlertsSuppressed,
)
from tickstock_server.errors import LimitExceededError, NotFoundError, NotReadyError

# --- streams ------------------------------------------------------------------------------------------


async def test_stream_overflow_delivers_queued_alerts_then_ends_overloaded() -> None:
    # Arrange: room for 3 items
    router = await make_router(
        make_subscription("alrt_alice", "alice"), make_subscription("alrt_bob", "bob"), stream_capacity=3
    )
    patterns = [make_pattern(confidence=0.5 + index / 10) for index in range(5)]

    with router.open_stream("alice") as alice, router.open_stream("bob") as bob:
        bob_items: list[AlertStreamItem] = []
        for pattern in patterns:
            # Act: bob reads as alerts come, alice does not
            router.route(pattern, NOW_NS)
            bob_items.append(await bob.receive(HEARTBEAT_S))
        alice_items = [await alice.receive(HEARTBEAT_S) for _ in range(5)]

        # Assert
        assert alice_items == [
            *(Alert(subscription_id="alrt_alice", pattern=pattern) for pattern in patterns[:3]),
            AlertStreamEnded(reason=AlertStreamEnd.OVERLOADED, dropped=2),
            AlertStreamEnded(reason=AlertStreamEnd.OVERLOADED, dropped=2),
        ]
        assert bob_items == [Alert(subscription_id="alrt_bob", pattern=pattern) for pattern in patterns]
        assert router.stats().overflowed_streams == 1


async def test_pending_notices_count_toward_stream_capacity() -> None:
    # Arrange: room for 2 items; quiet 09:00-10:00 UTC on the first subscription
    router = await make_router(
        make_subscription("alrt_quiet", quiet_hours=quiet("09:00", "10:00"), pattern_types=("Doji",)),
        make_subscription("alrt_loud", pattern_types=("Hammer",)),
        stream_capacity=2,
    )

    with router.open_stream("alice") as stream:
        # Act: one notice pending, then two alerts: the notice and the first alert fill the queue
        router.route(make_pattern(pattern_type="Doji"), ns_at("2026-01-06T09:30:00"))
        router.route(make_pattern(pattern_type="Hammer"), ns_at("2026-01-06T09:31:00"))
        router.route(make_pattern(pattern_type="Hammer"), ns_at("2026-01-06T09:32:00"))

        # Assert
        assert stream.queue_depth == 2
        assert stream.end_reason is AlertStreamEnd.OVERLOADED
        assert stream.dropped == 1


async def test_closed_streams_are_removed_and_receive_ends() -> None:
    # Arrange
    router = await make_router(make_subscription())
    first = router.open_stream("alice")
    second = router.open_stream("alice")

    # Act
    first.close()
    first.close()  # idempotent
    after_first = router.open_streams("alice")
    with second:
        pass

    # Assert
    assert after_first == 1
    assert router.open_streams("alice") == 0
    assert router.stats().streams == 0
    assert router.route(make_pattern(), NOW_NS) == 0
    assert await first.receive(HEARTBEAT_S) == AlertStreamEnded(reason=AlertStreamEnd.CLOSED, dropped=0)


async def test_close_wakes_a_waiting_receive() -> None:
    # Arrange
    router = await make_router()
    stream = router.open_stream("alice")
    receiving = asyncio.create_task(stream.receive(60.0))
    await asyncio.sleep(0)

    # Act
    stream.close()

    # Assert
    assert await receiving == AlertStreamEnded(reason=AlertStreamEnd.CLOSED, dropped=0)


async def test_stream_limit_per_user_is_enforced_and_freed_on_close() -> None:
    # Arrange
    router = await make_router(max_streams_per_user=2)
    first = router.open_stream("alice")
    router.open_stream("alice")

    # Act / Assert
    with pytest.raises(LimitExceededError):
        router.open_stream("alice")
    router.open_stream("bob").close()  # other users are not affected
    first.close()
    router.open_stream("alice").close()


async def test_shutdown_delivers_queued_alerts_then_ends_and_refuses_new_streams() -> None:
    # Arrange
    router = await make_router(make_subscription())
    pattern = make_pattern()
    stream = router.open_stream("alice")
    router.route(pattern, NOW_NS)

    # Act
    router.shutdown()

    # Assert
    assert await stream.receive(HEARTBEAT_S) == Alert(subscription_id="alrt_a", pattern=pattern)
    assert await stream.receive(HEARTBEAT_S) == AlertStreamEnded(reason=AlertStreamEnd.SHUTDOWN, dropped=0)
    with pytest.raises(NotReadyError):
        router.open_stream("bob")
    stream.close()


async def test_receive_rejects_non_positive_heartbeat() -> None:
    # Arrange
    router = await make_router()

    with router.open_stream("alice") as stream, pytest.raises(ValueError, match="heartbeat_s"):
        # Act
        await stream.receive(0)


# --- load ---------------------------------------------------------------------------------------------


async def test_load_replaces_subscriptions_and_keeps_rate_state_of_remaining_ones() -> None:
    # Arrange
    kept = make_subscription("alrt_kept", max_alerts_per_hour=1)
    router = await make_router(kept, make_subscription("alrt_dropped"))
    pattern = make_pattern("MSFT")

    with router.open_stream("alice") as stream:
        router.route(pattern, NOW_NS)  # uses up alrt_kept's limit

        # Act
        await router.load([kept, make_subscription("alrt_new", universes=("tech",))])
        router.route(pattern, NOW_NS + 1)

        # Assert
        assert router.subscription_count == 2
        assert [item for item in await drain(stream) if not isinstance(item, Alert)] == [
            AlertsSuppressed(subscription_id="alrt_kept", rate_limited_count=1)
        ]
        assert router.suppressed_totals("alrt_kept").rate_limited_count == 1
        with pytest.raises(NotFoundError):
            router.suppressed_totals("alrt_dropped")


async def test_changes_made_while_load_resolves_win_over_its_snapshot() -> None:
    # Arrange: a resolver that waits until released
    released = asyncio.Event()

    async def slow_resolve(names: Sequence[str]) -> frozenset[str]:
        await released.wait()
        return await resolve(names)

    router = AlertRouter(resolver=slow_resolve)
    router.add(make_subscription("alrt_old"))
    snapshot = [make_subscription("alrt_old"), make_subscription("alrt_deleted", universes=("tech",))]
    loading = asyncio.create_task(router.load(snapshot))
    await asyncio.sleep(0)

    # Act: a create and a delete land while the load waits
    router.add(make_subscription("alrt_created"))
    router.remove("alrt_deleted")
    router.remove("alrt_old")
    released.set()
    await loading

    # Assert
    with router.open_stream("alice") as stream:
        router.route(make_pattern(), NOW_NS)
        assert {item.subscription_id for item in await drain(stream) if isinstance(item, Alert)} == {
            "alrt_created"
        }
