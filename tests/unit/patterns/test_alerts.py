from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any

import pytest
from factories import NS_PER_S, ns_at

from tickstock_server.domain.alerts import (
    Alert,
    AlertLimits,
    AlertsSuppressed,
    AlertSubscription,
    QuietHours,
    TimeOfDay,
    load_time_zone,
    local_minute_of_day,
    validate_alert_subscription,
)
from tickstock_server.domain.patterns import Pattern, PatternSource
from tickstock_server.errors import LimitExceededError, NotFoundError, NotReadyError
from tickstock_server.patterns.alert_stream import (
    AlertHeartbeat,
    AlertStream,
    AlertStreamEnd,
    AlertStreamEnded,
    AlertStreamItem,
)
from tickstock_server.patterns.alerts import AlertRouter

NOW_NS = ns_at("2026-01-06T15:00:00")
"""Tuesday 2026-01-06 10:00 in New York (EST, UTC-5)."""
HOUR_NS = 3600 * NS_PER_S
HEARTBEAT_S = 0.01

UNIVERSES = {"tech": frozenset({"AAPL", "MSFT"}), "energy": frozenset({"XOM"}), "empty": frozenset()}


async def resolve(names: Sequence[str]) -> frozenset[str]:
    missing = [name for name in names if name not in UNIVERSES]
    if missing:
        raise NotFoundError(f"unknown universe {missing[0]!r}")
    return frozenset().union(*(UNIVERSES[name] for name in names))


def make_pattern(symbol: str = "AAPL", pattern_type: str = "Bull_Flag", confidence: float = 0.8) -> Pattern:
    return Pattern(
        pattern_id=f"{symbol}-{pattern_type}-{confidence}",
        symbol=symbol,
        pattern_type=pattern_type,
        confidence=confidence,
        price=100.0,
        price_change_pct=1.5,
        detected_ns=NOW_NS,
        expires_ns=NOW_NS + HOUR_NS,
        timeframe=None,
        source=PatternSource.PRODUCER,
    )


def make_subscription(
    subscription_id: str = "alrt_a", user: str = "alice", **overrides: Any
) -> AlertSubscription:
    return AlertSubscription(subscription_id=subscription_id, user=user, **overrides)


def quiet(start: str, end: str) -> QuietHours:
    """Quiet hours from "HH:MM" strings."""
    (start_h, start_m), (end_h, end_m) = (map(int, start.split(":")), map(int, end.split(":")))
    return QuietHours(
        start=TimeOfDay(hours=start_h, minutes=start_m), end=TimeOfDay(hours=end_h, minutes=end_m)
    )


async def make_router(*subscriptions: AlertSubscription, **options: Any) -> AlertRouter:
    router = AlertRouter(resolver=resolve, **options)
    for subscription in subscriptions:
        await router.activate(subscription)
    return router


async def drain(stream: AlertStream) -> list[AlertStreamItem]:
    """Receive until a heartbeat or the end; return what came before it."""
    items: list[AlertStreamItem] = []
    while True:
        item = await stream.receive(HEARTBEAT_S)
        if isinstance(item, AlertHeartbeat | AlertStreamEnded):
            return items
        items.append(item)


# --- matching -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subscription", "pattern", "delivered"),
    [
        pytest.param(make_subscription(), make_pattern(), True, id="no-criteria-matches-all"),
        pytest.param(
            make_subscription(pattern_types=("Bull_Flag", "Doji")), make_pattern(), True, id="type-in-set"
        ),
        pytest.param(make_subscription(pattern_types=("Doji",)), make_pattern(), False, id="type-not-in-set"),
        pytest.param(
            make_subscription(pattern_types=("bull_flag",)), make_pattern(), False, id="type-exact-case"
        ),
        pytest.param(make_subscription(symbols=("AAPL",)), make_pattern("AAPL"), True, id="symbol-listed"),
        pytest.param(
            make_subscription(symbols=("AAPL",)), make_pattern("NVDA"), False, id="symbol-not-listed"
        ),
        pytest.param(
            make_subscription(universes=("tech",)), make_pattern("MSFT"), True, id="universe-member"
        ),
        pytest.param(
            make_subscription(universes=("tech",)), make_pattern("XOM"), False, id="universe-non-member"
        ),
        pytest.param(
            make_subscription(symbols=("NVDA",), universes=("energy",)),
            make_pattern("XOM"),
            True,
            id="symbols-and-universes-union",
        ),
        pytest.param(
            make_subscription(universes=("empty",)), make_pattern(), False, id="empty-universe-not-all"
        ),
        pytest.param(
            make_subscription(universes=("gone",)), make_pattern(), False, id="unknown-universe-not-all"
        ),
        pytest.param(
            make_subscription(min_confidence=0.7), make_pattern(confidence=0.7), True, id="conf-at-min"
        ),
        pytest.param(
            make_subscription(min_confidence=0.7),
            make_pattern(confidence=math.nextafter(0.7, 0)),
            False,
            id="conf-below-min",
        ),
        pytest.param(
            make_subscription(pattern_types=("Doji",), symbols=("AAPL",), min_confidence=0.5),
            make_pattern("AAPL", "Doji", 0.9),
            True,
            id="all-criteria",
        ),
    ],
)
async def test_routing_table_delivers_only_matching_patterns(
    subscription: AlertSubscription, pattern: Pattern, delivered: bool
) -> None:
    # Arrange
    router = await make_router(subscription)

    with router.open_stream("alice") as stream:
        # Act
        count = router.route(pattern, NOW_NS)

        # Assert
        assert count == int(delivered)
        expected = [Alert(subscription_id=subscription.subscription_id, pattern=pattern)] if delivered else []
        assert await drain(stream) == expected


async def test_user_with_two_matching_subscriptions_gets_one_alert_each() -> None:
    # Arrange
    router = await make_router(make_subscription("alrt_1"), make_subscription("alrt_2", symbols=("AAPL",)))
    pattern = make_pattern()

    with router.open_stream("alice") as stream:
        # Act
        router.route(pattern, NOW_NS)

        # Assert
        assert {item.subscription_id for item in await drain(stream) if isinstance(item, Alert)} == {
            "alrt_1",
            "alrt_2",
        }


async def test_removed_subscription_no_longer_matches() -> None:
    # Arrange
    router = await make_router(make_subscription(symbols=("AAPL",)), make_subscription("alrt_all"))

    with router.open_stream("alice"):
        # Act
        router.remove("alrt_a")
        router.remove("alrt_all")
        router.remove("alrt_a")  # idempotent

        # Assert
        assert router.route(make_pattern(), NOW_NS) == 0
        assert router.subscription_count == 0


async def test_pattern_without_open_stream_is_neither_delivered_nor_counted() -> None:
    # Arrange
    router = await make_router(make_subscription(max_alerts_per_hour=1))

    # Act
    offline = router.route(make_pattern(), NOW_NS)
    with router.open_stream("alice") as stream:
        online = router.route(make_pattern(), NOW_NS)

        # Assert: the offline pattern used none of the rate limit of 1
        assert (offline, online) == (0, 1)
        assert len(await drain(stream)) == 1


# --- quiet hours --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at_utc", "local_time", "suppressed"),
    [
        # January: New York is on EST, UTC-5.
        ("2026-01-06T02:59:00", "Mon 21:59 EST", False),
        ("2026-01-06T03:00:00", "Mon 22:00 EST, start is inside", True),
        ("2026-01-06T05:30:00", "Tue 00:30 EST, after midnight", True),
        ("2026-01-06T11:59:00", "Tue 06:59 EST", True),
        ("2026-01-06T12:00:00", "Tue 07:00 EST, end is outside", False),
        # 2026-03-08: clocks go from 02:00 EST to 03:00 EDT (UTC-4) at 07:00 UTC.
        ("2026-03-08T06:30:00", "Sun 01:30 EST, before the change", True),
        ("2026-03-08T10:30:00", "Sun 06:30 EDT", True),
        ("2026-03-08T11:30:00", "Sun 07:30 EDT (06:30 if EST were kept)", False),
        # 2026-11-01: clocks go from 02:00 EDT back to 01:00 EST at 06:00 UTC.
        ("2026-11-01T10:30:00", "Sun 05:30 EST", True),
        ("2026-11-01T11:30:00", "Sun 06:30 EST (07:30 if EDT were kept)", True),
        ("2026-11-01T12:00:00", "Sun 07:00 EST", False),
    ],
)
async def test_quiet_hours_crossing_midnight_in_new_york_follow_dst(
    at_utc: str, local_time: str, suppressed: bool
) -> None:
    # Arrange: quiet 22:00-07:00 New York time
    subscription = make_subscription(quiet_hours=quiet("22:00", "07:00"), time_zone="America/New_York")
    router = await make_router(subscription)

    with router.open_stream("alice"):
        # Act
        delivered = router.route(make_pattern(), ns_at(at_utc))

        # Assert
        assert delivered == (0 if suppressed else 1), local_time
        assert router.suppressed_totals("alrt_a").quiet_hours_count == int(suppressed)


@pytest.mark.parametrize(
    ("window", "minute_of_day", "inside"),
    [
        (("12:00", "13:00"), 11 * 60 + 59, False),
        (("12:00", "13:00"), 12 * 60, True),
        (("12:00", "13:00"), 12 * 60 + 59, True),
        (("12:00", "13:00"), 13 * 60, False),
        (("23:30", "00:15"), 23 * 60 + 45, True),
        (("23:30", "00:15"), 0, True),
        (("23:30", "00:15"), 15, False),
        (("08:00", "08:00"), 8 * 60, False),  # start == end: an empty window
        (("00:00", "00:00"), 0, False),
    ],
)
def test_quiet_hours_window_is_half_open(window: tuple[str, str], minute_of_day: int, inside: bool) -> None:
    # Act / Assert
    assert quiet(*window).contains(minute_of_day) is inside


def test_local_minute_of_day_uses_zone_offset_at_that_instant() -> None:
    # Arrange
    zone = load_time_zone("America/New_York")
    assert zone is not None

    # Act / Assert: 12:00 UTC is 07:00 EST in January and 08:00 EDT in July
    assert local_minute_of_day(ns_at("2026-01-06T12:00:00"), zone) == 7 * 60
    assert local_minute_of_day(ns_at("2026-07-06T12:00:00"), zone) == 8 * 60


async def test_quiet_hours_suppression_is_reported_before_next_alert() -> None:
    # Arrange: quiet 09:00-10:00 UTC
    router = await make_router(make_subscription(quiet_hours=quiet("09:00", "10:00")))
    pattern = make_pattern()

    with router.open_stream("alice") as stream:
        # Act
        router.route(pattern, ns_at("2026-01-06T09:10:00"))
        router.route(pattern, ns_at("2026-01-06T09:50:00"))
        router.route(pattern, ns_at("2026-01-06T10:00:00"))

        # Assert
        assert await drain(stream) == [
            AlertsSuppressed(subscription_id="alrt_a", quiet_hours_count=2, rate_limited_count=0),
            Alert(subscription_id="alrt_a", pattern=pattern),
        ]


# --- rate limit ---------------------------------------------------------------------------------------


async def test_51st_alert_within_an_hour_is_rate_limited_and_allowed_an_hour_later() -> None:
    # Arrange: the default limit of 50 per hour
    router = await make_router(make_subscription())
    pattern = make_pattern()

    with router.open_stream("alice") as stream:
        # Act: one alert a second from NOW_NS
        first_50 = [router.route(pattern, NOW_NS + index * NS_PER_S) for index in range(50)]
        the_51st = router.route(pattern, NOW_NS + 50 * NS_PER_S)
        just_before_hour = router.route(pattern, NOW_NS + HOUR_NS - 1)
        one_hour_after_first = router.route(pattern, NOW_NS + HOUR_NS)
        again_same_time = router.route(pattern, NOW_NS + HOUR_NS)
        next_hour = [router.route(pattern, NOW_NS + 2 * HOUR_NS + index) for index in range(50)]
        after_next_hour_limit = router.route(pattern, NOW_NS + 2 * HOUR_NS + 50)

        # Assert
        assert first_50 == [1] * 50
        assert (the_51st, just_before_hour, one_hour_after_first, again_same_time) == (0, 0, 1, 0)
        assert next_hour == [1] * 50
        assert after_next_hour_limit == 0
        assert router.suppressed_totals("alrt_a") == AlertsSuppressed(
            subscription_id="alrt_a", quiet_hours_count=0, rate_limited_count=4
        )
        assert router.stats().delivered == 101
        assert stream.queue_depth == 101 + 2  # two notices went out before alerts; the last is pending


async def test_rate_limited_counts_are_sent_on_heartbeat_tick_and_reset_after_notice() -> None:
    # Arrange
    router = await make_router(make_subscription(max_alerts_per_hour=2))
    pattern = make_pattern()

    with router.open_stream("alice") as stream:
        for index in range(5):
            router.route(pattern, NOW_NS + index)

        # Act: two alerts, then (no alert following) the notice at the heartbeat tick, then a heartbeat
        items = [await stream.receive(HEARTBEAT_S) for _ in range(4)]
        router.route(pattern, NOW_NS + 10)
        router.route(pattern, NOW_NS + HOUR_NS)
        later = await drain(stream)

        # Assert
        assert items == [
            Alert(subscription_id="alrt_a", pattern=pattern),
            Alert(subscription_id="alrt_a", pattern=pattern),
            AlertsSuppressed(subscription_id="alrt_a", rate_limited_count=3),
            AlertHeartbeat(),
        ]
        assert later == [
            AlertsSuppressed(subscription_id="alrt_a", rate_limited_count=1),
            Alert(subscription_id="alrt_a", pattern=pattern),
        ]


async def test_rate_limit_counts_one_alert_per_subscription_whatever_the_stream_count() -> None:
    # Arrange
    router = await make_router(make_subscription(max_alerts_per_hour=1))
    pattern = make_pattern()

    with router.open_stream("alice") as phone, router.open_stream("alice") as laptop:
        # Act
        delivered = router.route(pattern, NOW_NS)

        # Assert
        assert delivered == 1
        assert await drain(phone) == await drain(laptop) == [Alert(subscription_id="alrt_a", pattern=pattern)]


# --- users --------------------------------------------------------------------------------------------


async def test_other_users_never_see_your_alerts_or_notices() -> None:
    # Arrange
    router = await make_router(
        make_subscription("alrt_alice", "alice", pattern_types=("Doji",), max_alerts_per_hour=1),
        make_subscription("alrt_bob", "bob", pattern_types=("Hammer",)),
    )
    doji, hammer = make_pattern(pattern_type="Doji"), make_pattern(pattern_type="Hammer")

    with router.open_stream("alice") as alice, router.open_stream("bob") as bob:
        # Act
        router.route(doji, NOW_NS)
        router.route(doji, NOW_NS + 1)  # alice's rate limit
        router.route(hammer, NOW_NS + 2)

        # Assert
        assert await drain(alice) == [
            Alert(subscription_id="alrt_alice", pattern=doji),
            AlertsSuppressed(subscription_id="alrt_alice", rate_limited_count=1),
        ]
        assert await drain(bob) == [Alert(subscription_id="alrt_bob", pattern=hammer)]


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


# --- validation ---------------------------------------------------------------------------------------


def test_valid_subscription_has_no_violations() -> None:
    # Arrange
    subscription = make_subscription(
        pattern_types=("Bull_Flag", "Doji"),
        symbols=("AAPL", "BRK.B"),
        universes=("sp500",),
        min_confidence=1.0,
        quiet_hours=quiet("22:00", "07:00"),
        time_zone="America/New_York",
        max_alerts_per_hour=1000,
    )

    # Act / Assert
    assert validate_alert_subscription(subscription) == []


def test_invalid_subscription_lists_every_bad_field() -> None:
    # Arrange
    subscription = make_subscription(
        pattern_types=("Doji", "Doji", "bad name"),
        symbols=("AAPL", "MSFT", "aapl", "MSFT"),
        universes=("Tech",),
        min_confidence=70.0,  # the original's 0-100 scale
        quiet_hours=QuietHours(start=TimeOfDay(hours=24, minutes=0), end=TimeOfDay(hours=7, minutes=60)),
        time_zone="Mars/Olympus_Mons",
        max_alerts_per_hour=0,
    )

    # Act
    violations = validate_alert_subscription(subscription)

    # Assert
    assert [violation.field for violation in violations] == [
        "subscription.pattern_types[1]",
        "subscription.pattern_types[2]",
        "subscription.symbols[2]",
        "subscription.symbols[3]",
        "subscription.universes[0]",
        "subscription.min_confidence",
        "subscription.quiet_hours.start.hours",
        "subscription.quiet_hours.end.minutes",
        "subscription.time_zone",
        "subscription.max_alerts_per_hour",
    ]
    assert violations[3].description == "repeats subscription.symbols[1] (MSFT)"


@pytest.mark.parametrize("confidence", [-0.01, 1.01, math.nan, math.inf])
def test_confidence_outside_zero_to_one_is_a_violation(confidence: float) -> None:
    # Act
    violations = validate_alert_subscription(make_subscription(min_confidence=confidence))

    # Assert
    assert [violation.field for violation in violations] == ["subscription.min_confidence"]


@pytest.mark.parametrize("max_alerts", [-1, 0, 1001])
def test_rate_limit_outside_1_to_1000_is_a_violation(max_alerts: int) -> None:
    # Act
    violations = validate_alert_subscription(make_subscription(max_alerts_per_hour=max_alerts))

    # Assert
    assert [violation.field for violation in violations] == ["subscription.max_alerts_per_hour"]


@pytest.mark.parametrize(
    "zone", ["", "Mars/Olympus", "america/new_york", "../etc/passwd", "/etc/localtime", "zone.tab", "UTC "]
)
def test_unknown_or_malformed_time_zone_is_a_violation(zone: str) -> None:
    # Act
    violations = validate_alert_subscription(make_subscription(time_zone=zone))

    # Assert
    assert [violation.field for violation in violations] == ["subscription.time_zone"]


@pytest.mark.parametrize(
    ("field", "limit_name", "make_value"),
    [
        ("pattern_types", "max_pattern_types", lambda index: f"P{index}"),
        ("symbols", "max_symbols", lambda index: f"S{index}"),
        ("universes", "max_universes", lambda index: f"u{index}"),
    ],
)
def test_list_longer_than_limit_is_one_violation(field: str, limit_name: str, make_value: Any) -> None:
    # Arrange
    limits = AlertLimits()
    size = getattr(limits, limit_name)
    at_limit = make_subscription(**{field: tuple(make_value(index) for index in range(size))})
    over_limit = make_subscription(**{field: tuple(make_value(index) for index in range(size + 1))})

    # Act
    violations = validate_alert_subscription(over_limit, limits=limits)

    # Assert
    assert validate_alert_subscription(at_limit, limits=limits) == []
    assert [violation.field for violation in violations] == [f"subscription.{field}"]
