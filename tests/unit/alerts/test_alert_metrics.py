"""Alert router metrics: subscriptions, streams, fired, delivered and suppressed alerts, overloaded streams
and queued items."""

from __future__ import annotations

from alert_fixtures import NOW_NS, make_pattern, make_router, make_subscription, quiet
from factories import ns_at

from tickstock_server.support.metric_samples import MetricKind, MetricSample


def _values(samples: list[MetricSample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples}


async def test_alerts_are_exported_fired_suppressed_by_reason_and_streams_overloaded() -> None:
    # Arrange: streams of one item; alice is quiet 09:00-10:00 UTC, bob may get one alert an hour
    router = await make_router(
        make_subscription(
            "alrt_quiet", "alice", quiet_hours=quiet("09:00", "10:00"), pattern_types=("Doji",)
        ),
        make_subscription("alrt_rate", "bob", max_alerts_per_hour=1, pattern_types=("Hammer",)),
        make_subscription("alrt_all", "carol", pattern_types=("Bull_Flag",)),
        stream_capacity=1,
    )
    streams = [router.open_stream(user) for user in ("alice", "bob", "carol")]

    # Act
    router.route(make_pattern(pattern_type="Doji"), ns_at("2026-01-06T09:30:00"))  # alice: quiet hours
    router.route(make_pattern(pattern_type="Hammer"), NOW_NS)  # bob: delivered
    router.route(make_pattern(pattern_type="Hammer"), NOW_NS + 1)  # bob: rate limited
    router.route(make_pattern(), NOW_NS)  # carol: delivered, her stream is full
    router.route(make_pattern(), NOW_NS + 1)  # carol: passes the checks, overflows her stream

    # Assert
    samples = router.metric_samples()
    assert _values(samples) == {
        ("tickstock_alert_subscriptions", ()): 3,
        ("tickstock_alert_streams", ()): 3,
        ("tickstock_alerts_fired", ()): 3,
        ("tickstock_alerts_delivered", ()): 0,  # no client has read one yet
        ("tickstock_alerts_suppressed", (("reason", "quiet_hours"),)): 1,
        ("tickstock_alerts_suppressed", (("reason", "rate_limited"),)): 1,
        ("tickstock_alert_streams_overloaded", ()): 1,
        ("tickstock_alert_stream_queued", ()): 2,  # bob's alert and carol's first
    }
    kinds = {s.name: s.kind for s in samples}
    assert kinds["tickstock_alert_streams"] is MetricKind.GAUGE
    assert kinds["tickstock_alerts_suppressed"] is MetricKind.COUNTER
    for stream in streams:
        stream.close()


async def test_alerts_count_as_delivered_once_per_stream_that_takes_them() -> None:
    # Arrange: alice has two streams, bob one
    router = await make_router(
        make_subscription("alrt_a", "alice", pattern_types=("Doji",)),
        make_subscription("alrt_b", "bob", pattern_types=("Hammer",)),
    )
    alice_streams = [router.open_stream("alice"), router.open_stream("alice")]
    bob_stream = router.open_stream("bob")
    router.route(make_pattern(pattern_type="Doji"), NOW_NS)
    router.route(make_pattern(pattern_type="Hammer"), NOW_NS)

    # Act: both of alice's streams take their copy; bob's stays queued
    for stream in alice_streams:
        await stream.receive(heartbeat_s=1.0)

    # Assert
    values = _values(router.metric_samples())
    assert values[("tickstock_alerts_fired", ())] == 2
    assert values[("tickstock_alerts_delivered", ())] == 2
    assert values[("tickstock_alert_stream_queued", ())] == 1
    for stream in [*alice_streams, bob_stream]:
        stream.close()
    assert _values(router.metric_samples())[("tickstock_alert_stream_queued", ())] == 0
