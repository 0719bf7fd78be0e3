"""AuthFailures: per-peer failure budgets, rate-limited log lines without secrets, metrics."""

from __future__ import annotations

import logging

import pytest

from tickstock_server.api.auth_failures import AuthFailures, peer_address
from tickstock_server.errors import AuthThrottledError

SECRET = "S" * 43
TOKEN = f"tsk_0123456789ab_{SECRET}"


class Monotonic:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def _fail(failures: AuthFailures, peer: str, times: int) -> None:
    for _ in range(times):
        failures.check(peer)
        failures.record(peer, TOKEN, "rejected")


def test_a_peer_within_its_burst_is_not_throttled() -> None:
    # Arrange
    failures = AuthFailures(failures_per_s=2.0, burst=3, monotonic_s=Monotonic())
    _fail(failures, "10.0.0.1", 2)

    # Act
    failures.check("10.0.0.1")

    # Assert
    assert failures.throttled_total == 0


def test_a_peer_beyond_its_burst_is_throttled_with_the_time_to_its_next_try() -> None:
    # Arrange
    failures = AuthFailures(failures_per_s=2.0, burst=3, monotonic_s=Monotonic())
    _fail(failures, "10.0.0.1", 3)

    # Act
    with pytest.raises(AuthThrottledError) as raised:
        failures.check("10.0.0.1")

    # Assert
    assert raised.value.retry_after_s == pytest.approx(0.5)
    assert failures.throttled_total == 1


def test_other_peers_are_not_throttled() -> None:
    # Arrange
    failures = AuthFailures(failures_per_s=2.0, burst=3, monotonic_s=Monotonic())
    _fail(failures, "10.0.0.1", 3)

    # Act
    failures.check("10.0.0.2")

    # Assert
    assert failures.throttled_total == 0


def test_the_budget_refills_at_the_rate() -> None:
    # Arrange
    clock = Monotonic()
    failures = AuthFailures(failures_per_s=2.0, burst=3, monotonic_s=clock)
    _fail(failures, "10.0.0.1", 3)

    # Act
    clock.now_s += 0.5
    failures.check("10.0.0.1")

    # Assert
    assert failures.throttled_total == 0


def test_the_peer_table_forgets_the_least_recent_peer() -> None:
    # Arrange
    failures = AuthFailures(failures_per_s=1.0, burst=1, max_peers=2, monotonic_s=Monotonic())
    _fail(failures, "10.0.0.1", 1)
    _fail(failures, "10.0.0.2", 1)

    # Act: a third peer pushes out the first, which starts again with a full bucket
    _fail(failures, "10.0.0.3", 1)
    failures.check("10.0.0.1")

    # Assert
    assert failures.throttled_total == 0
    with pytest.raises(AuthThrottledError):
        failures.check("10.0.0.3")


def test_failures_are_logged_once_per_interval_per_peer_with_counts(caplog: pytest.LogCaptureFixture) -> None:
    # Arrange
    clock = Monotonic()
    failures = AuthFailures(burst=100, log_interval_s=10.0, monotonic_s=clock)
    caplog.set_level(logging.INFO, logger="tickstock_server.api.auth_failures")

    # Act
    for _ in range(5):
        failures.record("10.0.0.1", TOKEN, "rejected")
    failures.record("10.0.0.2", None, "missing")
    clock.now_s += 10.0
    failures.record("10.0.0.1", TOKEN, "rejected")

    # Assert
    lines = [(r.peer, r.reason, r.key_id, r.failures) for r in caplog.records]  # type: ignore[attr-defined]
    assert lines == [
        ("10.0.0.1", "rejected", "0123456789ab", 1),
        ("10.0.0.2", "missing", "", 1),
        ("10.0.0.1", "rejected", "0123456789ab", 5),
    ]
    assert all(r.levelno == logging.INFO for r in caplog.records)
    assert SECRET not in caplog.text
    assert failures.failures_total == 7


def test_metric_samples_count_failures_by_reason_and_throttled_calls() -> None:
    # Arrange
    failures = AuthFailures(failures_per_s=1.0, burst=1, monotonic_s=Monotonic())
    _fail(failures, "10.0.0.1", 1)
    with pytest.raises(AuthThrottledError):
        failures.check("10.0.0.1")

    failures.record("10.0.0.2", None, "missing")
    failures.record("10.0.0.2", None, "missing")

    # Act
    samples = {(s.name, *s.labels.values()): s.value for s in failures.metric_samples()}

    # Assert: every reason is exported, from 0
    assert samples == {
        ("tickstock_auth_failures", "missing"): 2,
        ("tickstock_auth_failures", "malformed"): 0,
        ("tickstock_auth_failures", "rejected"): 1,
        ("tickstock_auth_throttled",): 1,
    }


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("ipv4:10.1.2.3:5000", "10.1.2.3"),
        ("ipv6:[::1]:5000", "::1"),
        ("ipv6:%5B2001:db8::7%5D:443", "2001:db8::7"),
        ("unix:/run/tickstock.sock", "unix:/run/tickstock.sock"),
    ],
)
def test_peer_address_keeps_the_address_without_the_port(peer: str, address: str) -> None:
    assert peer_address(peer) == address
