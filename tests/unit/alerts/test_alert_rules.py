"""Alert rules: which patterns match a subscription, quiet hours, the hourly limit, and users."""

from __future__ import annotations

import math

import pytest
from alert_fixtures import (
    HEARTBEAT_S,
    HOUR_NS,
    NOW_NS,
    drain,
    make_pattern,
    make_router,
    make_subscription,
    quiet,
)
from factories import NS_PER_S, ns_at

from tickstock_server.alerts.stream import (
    AlertHeartbeat,
)
from tickstock_server.domain.alerts import (
    Alert,
    AlertsSuppressed,
    AlertSubscription,
    load_time_zone,
    local_minute_of_day,
)
from tickstock_server.domain.patterns import Pattern

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
