"""FallbackSwitch: activation on a stale or missing heartbeat, no flapping, stand-down with hysteresis."""

from __future__ import annotations

import logging

import pytest
from factories import NS_PER_S

from tickstock_server.patterns.fallback_switch import FallbackSwitch, heartbeat_ns_from_redis

T0_NS = 1_767_700_000 * NS_PER_S


def at(seconds: float) -> int:
    return T0_NS + round(seconds * NS_PER_S)


def observe_every(
    switch: FallbackSwitch, start_s: int, end_s: int, heartbeat_s: int, step_s: int = 5
) -> list[bool]:
    """Observe every `step_s` in [start_s, end_s) while the producer writes every `heartbeat_s` from 0."""
    return [
        switch.observe(at(now_s), at(now_s // heartbeat_s * heartbeat_s))
        for now_s in range(start_s, end_s, step_s)
    ]


# --- activation -----------------------------------------------------------------------------------------


def test_heartbeat_older_than_threshold_activates() -> None:
    # Arrange
    switch = FallbackSwitch(activate_after_s=90)
    heartbeat = at(0)

    # Act
    before = switch.observe(at(89.9), heartbeat)
    after = switch.observe(at(90), heartbeat)

    # Assert
    assert (before, after) == (False, True)
    assert switch.activations == 1
    assert switch.active_since_ns == at(90)
    assert switch.heartbeat_age_s == 90.0


def test_stale_heartbeat_at_start_activates_at_once() -> None:
    # Arrange: the producer died long before this server started (the key has no TTL).
    switch = FallbackSwitch()

    # Act
    active = switch.observe(at(1000), at(0))

    # Assert
    assert active is True


def test_missing_heartbeat_activates_only_after_startup_grace() -> None:
    # Arrange
    switch = FallbackSwitch(activate_after_s=90)

    # Act
    during_grace = [switch.observe(at(s), None) for s in (0, 30, 89)]
    after_grace = switch.observe(at(90), None)

    # Assert
    assert during_grace == [False, False, False]
    assert after_grace is True
    assert switch.heartbeat_age_s is None


def test_startup_grace_is_configurable() -> None:
    # Arrange
    switch = FallbackSwitch(activate_after_s=90, startup_grace_s=10)

    # Act
    results = [switch.observe(at(s), None) for s in (0, 9, 10)]

    # Assert
    assert results == [False, False, True]


def test_first_heartbeat_during_grace_keeps_it_inactive() -> None:
    # Arrange: the server starts next to a healthy producer whose first write comes 40 s later.
    switch = FallbackSwitch()
    switch.observe(at(0), None)

    # Act
    results = observe_every(switch, 40, 3600, heartbeat_s=60)

    # Assert
    assert not any(results)
    assert switch.activations == 0


# --- no flapping ----------------------------------------------------------------------------------------


def test_heartbeat_every_60_s_with_90_s_threshold_never_activates() -> None:
    # Arrange: the original's producer wrote every 60 s; its 30 s threshold flapped every minute.
    switch = FallbackSwitch(activate_after_s=90)

    # Act: one hour of observations every 5 s; the heartbeat age cycles through 0..55 s.
    results = observe_every(switch, 0, 3600, heartbeat_s=60)

    # Assert
    assert not any(results)
    assert switch.activations == 0


def test_original_30_s_threshold_with_60_s_heartbeat_would_activate() -> None:
    # Arrange: the same producer against the original's threshold shows why 90 s is the default.
    switch = FallbackSwitch(activate_after_s=30, stand_down_after_s=120)

    # Act
    results = observe_every(switch, 0, 600, heartbeat_s=60)

    # Assert
    assert any(results)


def test_active_switch_does_not_flap_while_heartbeats_are_intermittent() -> None:
    # Arrange: active; then a producer that writes once every 100 s (fresh for 90 s, stale for 10 s).
    switch = FallbackSwitch(activate_after_s=90, stand_down_after_s=120)
    switch.observe(at(0), None)
    assert switch.observe(at(90), None) is True

    # Act
    results = observe_every(switch, 100, 1100, heartbeat_s=100)

    # Assert: never 120 s of continuous freshness, so it stays active throughout.
    assert all(results)
    assert switch.stand_downs == 0


# --- stand-down and re-activation ----------------------------------------------------------------------


def test_stands_down_after_continuous_freshness() -> None:
    # Arrange: active since 100 s (heartbeat from 0).
    switch = FallbackSwitch(activate_after_s=90, stand_down_after_s=120)
    assert switch.observe(at(100), at(0)) is True

    # Act: the producer is back, writing every 15 s from 200 s; first fresh observation at 200 s.
    still_active = observe_every(switch, 200, 320, heartbeat_s=15)
    stood_down = switch.observe(at(320), at(315))

    # Assert
    assert all(still_active)
    assert stood_down is False
    assert switch.stand_downs == 1
    assert switch.active_since_ns is None


def test_single_heartbeat_never_stands_down() -> None:
    # Arrange: active; the producer writes once at 200 s and dies again.
    switch = FallbackSwitch(activate_after_s=90, stand_down_after_s=120)
    switch.observe(at(100), at(0))

    # Act: fresh from 200 s to 285 s (age < 90 s), stale from 290 s.
    results = [switch.observe(at(s), at(200)) for s in range(200, 600, 5)]

    # Assert
    assert all(results)
    assert switch.stand_downs == 0


def test_missing_observation_restarts_the_freshness_period() -> None:
    # Arrange: active; the producer is back at 200 s.
    switch = FallbackSwitch(activate_after_s=90, stand_down_after_s=120)
    switch.observe(at(100), at(0))
    first_run = [switch.observe(at(s), at(s)) for s in range(200, 300, 10)]

    # Act: the key is missing once at 300 s, then fresh again from 310 s.
    gap = switch.observe(at(300), None)
    second_run = [switch.observe(at(s), at(s)) for s in range(310, 430, 10)]
    stood_down = switch.observe(at(430), at(430))

    # Assert: 120 s counted from 310 s, not from 200 s.
    assert all(first_run) and gap and all(second_run)
    assert stood_down is False


def test_producer_leaving_again_reactivates() -> None:
    # Arrange: active, then stood down by 130 s of fresh heartbeats.
    switch = FallbackSwitch(activate_after_s=90, stand_down_after_s=120)
    switch.observe(at(100), at(0))
    for s in range(200, 330, 10):
        switch.observe(at(s), at(s))
    assert switch.active is False

    # Act: the last heartbeat is at 320 s; it turns stale at 410 s.
    before = switch.observe(at(405), at(320))
    after = switch.observe(at(410), at(320))

    # Assert
    assert (before, after) == (False, True)
    assert (switch.activations, switch.stand_downs) == (2, 1)
    assert switch.active_since_ns == at(410)


def test_heartbeat_from_the_future_counts_as_fresh() -> None:
    # Arrange: the producer's clock runs 5 s ahead.
    switch = FallbackSwitch()

    # Act
    active = switch.observe(at(100), at(105))

    # Assert
    assert active is False
    assert switch.heartbeat_age_s == 0.0


def test_transitions_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    # Arrange
    switch = FallbackSwitch(activate_after_s=90, stand_down_after_s=120)
    caplog.set_level(logging.INFO, logger="tickstock_server.patterns.fallback_switch")

    # Act
    switch.observe(at(100), at(0))
    for s in range(200, 330, 10):
        switch.observe(at(s), at(s))

    # Assert
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]
    assert "100 s old" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"activate_after_s": 0},
        {"activate_after_s": 90, "stand_down_after_s": 90},
        {"startup_grace_s": -1},
    ],
)
def test_invalid_parameters_raise_value_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FallbackSwitch(**kwargs)


# --- heartbeat key parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"1767700000.25", 1_767_700_000_250_000_000),
        ("1767700000", 1_767_700_000 * NS_PER_S),
        (None, None),
        (b"", None),
        (b"alive", None),
        (b"nan", None),
        (b"inf", None),
        (b"-1", None),
        (b"1e999999", None),
        (b"\xff\xfe", None),
    ],
)
def test_heartbeat_value_parses_to_ns_or_none(raw: bytes | str | None, expected: int | None) -> None:
    assert heartbeat_ns_from_redis(raw) == expected
