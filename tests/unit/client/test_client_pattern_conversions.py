"""PatternService's statistics, alert subscriptions and alerts: every field, and absent optional ones."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tickstock.v1 import common_pb2, events_pb2
from tickstock.v1 import pattern_service_pb2 as pb
from tickstock_client import Alert, AlertsSuppressed, AlertSubscription, PatternStats
from tickstock_client._json import to_plain
from tickstock_client._pattern_proto import (
    alert_from_proto,
    alert_subscription_from_proto,
    alerts_suppressed_from_proto,
    pattern_stats_from_proto,
    quiet_hours_to_proto,
)

SECONDS = 1_767_711_600  # 2026-01-06T15:00:00Z
MOMENT = datetime(2026, 1, 6, 15, 0, tzinfo=UTC)


def test_pattern_stats_carry_every_field_and_patterns_by_type_sorted_by_name() -> None:
    # Arrange
    message = pb.GetPatternStatsResponse(
        cached_patterns=7, events_processed=120, invalid_messages=3, expired_cleaned=11, scans=42,
        fallback_active=True, patterns_by_type={"Hammer": 2, "Bull_Flag": 4, "Doji": 1},
    )  # fmt: skip
    message.last_event_time.FromSeconds(SECONDS)
    message.producer_heartbeat_age.FromMilliseconds(2_500)

    # Act
    stats = pattern_stats_from_proto(message)

    # Assert
    assert stats == PatternStats(
        cached_patterns=7,
        events_processed=120,
        invalid_messages=3,
        last_event_time=MOMENT,
        expired_cleaned=11,
        scans=42,
        producer_heartbeat_age=timedelta(seconds=2.5),
        fallback_active=True,
        patterns_by_type={"Bull_Flag": 4, "Doji": 1, "Hammer": 2},
    )
    assert list(stats.patterns_by_type) == ["Bull_Flag", "Doji", "Hammer"]


def test_pattern_stats_without_a_pattern_or_a_heartbeat_read_none() -> None:
    # Act
    stats = pattern_stats_from_proto(pb.GetPatternStatsResponse())

    # Assert
    assert (stats.last_event_time, stats.producer_heartbeat_age) == (None, None)
    assert (stats.cached_patterns, stats.fallback_active, stats.patterns_by_type) == (0, False, {})


def test_an_alert_subscription_carries_every_field() -> None:
    # Arrange
    message = pb.AlertSubscription(
        subscription_id="alrt_0123456789abcdef", pattern_types=["Doji", "Hammer"], symbols=["MSFT"],
        universes=["chips"], min_confidence=0.7, time_zone="America/New_York", max_alerts_per_hour=20,
        quiet_hours=pb.QuietHours(
            start=common_pb2.TimeOfDay(hours=22), end=common_pb2.TimeOfDay(hours=7, minutes=30)
        ),
    )  # fmt: skip
    message.create_time.FromSeconds(SECONDS)

    # Act
    subscription = alert_subscription_from_proto(message)

    # Assert
    assert subscription == AlertSubscription(
        subscription_id="alrt_0123456789abcdef",
        pattern_types=("Doji", "Hammer"),
        symbols=("MSFT",),
        universes=("chips",),
        min_confidence=0.7,
        quiet_hours=(time(22, 0), time(7, 30)),
        time_zone="America/New_York",
        max_alerts_per_hour=20,
        create_time=MOMENT,
    )
    assert to_plain(subscription)["quiet_hours"] == ["22:00", "07:30"]


def test_an_alert_subscription_without_quiet_hours_or_time_reads_none() -> None:
    # Act
    subscription = alert_subscription_from_proto(pb.AlertSubscription(subscription_id="alrt_x"))

    # Assert
    assert (subscription.quiet_hours, subscription.create_time) == (None, None)
    assert (subscription.pattern_types, subscription.symbols, subscription.universes) == ((), (), ())


def test_quiet_hours_go_out_as_hours_and_minutes() -> None:
    # Act
    message = quiet_hours_to_proto((time(22, 15), time(6, 0)))

    # Assert
    assert (message.start.hours, message.start.minutes) == (22, 15)
    assert (message.end.hours, message.end.minutes) == (6, 0)


@pytest.mark.parametrize(
    "start",
    [time(22, 0, 30), time(22, 0, 0, 1), time(22, 0, tzinfo=ZoneInfo("America/New_York"))],
    ids=["seconds", "microseconds", "tzinfo"],
)
def test_quiet_hours_the_api_cannot_carry_are_refused_before_sending(start: time) -> None:
    # Act / Assert
    with pytest.raises(ValueError, match="whole minutes"):
        quiet_hours_to_proto((start, time(7, 0)))


def test_an_alert_carries_its_subscription_and_pattern() -> None:
    # Arrange
    message = pb.Alert(
        subscription_id="alrt_0123456789abcdef",
        pattern=pb.Pattern(
            symbol="NVDA",
            price=101.5,
            details=events_pb2.PatternDetails(
                pattern_id="p-1",
                pattern_type="Doji",
                confidence=0.9,
                timeframe=events_pb2.PATTERN_TIMEFRAME_DAILY,
                source=events_pb2.PATTERN_SOURCE_PRODUCER,
            ),
        ),
    )
    message.pattern.detect_time.FromSeconds(SECONDS)

    # Act
    alert = alert_from_proto(message)

    # Assert
    assert isinstance(alert, Alert)
    assert alert.subscription_id == "alrt_0123456789abcdef"
    assert (alert.pattern.symbol, alert.pattern.price, alert.pattern.detect_time) == ("NVDA", 101.5, MOMENT)
    details = alert.pattern.details
    assert (details.pattern_id, details.pattern_type, details.confidence) == ("p-1", "Doji", 0.9)
    assert (details.timeframe, details.source, details.expire_time) == ("daily", "producer", None)


def test_a_suppression_notice_carries_both_counts() -> None:
    # Act
    notice = alerts_suppressed_from_proto(
        pb.AlertsSuppressed(subscription_id="alrt_x", quiet_hours_count=4, rate_limited_count=9)
    )

    # Assert
    assert notice == AlertsSuppressed(subscription_id="alrt_x", quiet_hours_count=4, rate_limited_count=9)
