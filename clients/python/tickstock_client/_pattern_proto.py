"""Conversions of PatternService's statistics, alert subscriptions and alerts (see `_proto`)."""

from __future__ import annotations

from datetime import time

from tickstock.v1 import common_pb2, pattern_service_pb2
from tickstock_client._pattern_models import Alert, AlertsSuppressed, AlertSubscription, PatternStats
from tickstock_client._proto import optional_datetime, pattern_from_proto

__all__ = [
    "alert_from_proto",
    "alert_subscription_from_proto",
    "alerts_suppressed_from_proto",
    "pattern_stats_from_proto",
    "quiet_hours_to_proto",
]


def pattern_stats_from_proto(message: pattern_service_pb2.GetPatternStatsResponse) -> PatternStats:
    return PatternStats(
        cached_patterns=message.cached_patterns,
        events_processed=message.events_processed,
        invalid_messages=message.invalid_messages,
        last_event_time=optional_datetime(message, "last_event_time"),
        expired_cleaned=message.expired_cleaned,
        scans=message.scans,
        producer_heartbeat_age=(
            message.producer_heartbeat_age.ToTimedelta()
            if message.HasField("producer_heartbeat_age")
            else None
        ),
        fallback_active=message.fallback_active,
        patterns_by_type=dict(sorted(message.patterns_by_type.items())),
    )


def _time_of_day_to_proto(moment: time, which: str) -> common_pb2.TimeOfDay:
    if moment.second or moment.microsecond or moment.tzinfo is not None:
        # The API knows whole minutes of local time; the zone is the subscription's `time_zone`.
        raise ValueError(f"quiet hours {which} {moment!r}: give whole minutes, without tzinfo")
    return common_pb2.TimeOfDay(hours=moment.hour, minutes=moment.minute)


def quiet_hours_to_proto(quiet_hours: tuple[time, time]) -> pattern_service_pb2.QuietHours:
    """(start, end) as QuietHours; ValueError for seconds or a tzinfo, which the API cannot carry."""
    start, end = quiet_hours
    return pattern_service_pb2.QuietHours(
        start=_time_of_day_to_proto(start, "start"), end=_time_of_day_to_proto(end, "end")
    )


def alert_subscription_from_proto(message: pattern_service_pb2.AlertSubscription) -> AlertSubscription:
    quiet_hours = None
    if message.HasField("quiet_hours"):
        start, end = message.quiet_hours.start, message.quiet_hours.end
        quiet_hours = (time(start.hours, start.minutes), time(end.hours, end.minutes))
    return AlertSubscription(
        subscription_id=message.subscription_id,
        pattern_types=tuple(message.pattern_types),
        symbols=tuple(message.symbols),
        universes=tuple(message.universes),
        min_confidence=message.min_confidence,
        quiet_hours=quiet_hours,
        time_zone=message.time_zone,
        max_alerts_per_hour=message.max_alerts_per_hour,
        create_time=optional_datetime(message, "create_time"),
    )


def alert_from_proto(message: pattern_service_pb2.Alert) -> Alert:
    return Alert(subscription_id=message.subscription_id, pattern=pattern_from_proto(message.pattern))


def alerts_suppressed_from_proto(message: pattern_service_pb2.AlertsSuppressed) -> AlertsSuppressed:
    return AlertsSuppressed(
        subscription_id=message.subscription_id,
        quiet_hours_count=message.quiet_hours_count,
        rate_limited_count=message.rate_limited_count,
    )
