"""Alert subscriptions: validation of every field."""

from __future__ import annotations

import math
from typing import Any

import pytest
from alert_fixtures import make_subscription, quiet

from tickstock_server.domain.alerts import (
    AlertLimits,
    QuietHours,
    TimeOfDay,
    validate_alert_subscription,
)

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
