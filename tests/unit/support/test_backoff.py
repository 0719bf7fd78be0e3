"""Backoff: doubling delays up to a cap, a reset after success, equal jitter."""

from __future__ import annotations

import random

from tickstock_server.support.backoff import Backoff


def test_delays_double_from_initial_up_to_the_cap() -> None:
    backoff = Backoff(0.1, 5.0)

    delays = [backoff.next_delay_s() for _ in range(9)]

    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
    assert backoff.attempt == 9


def test_reset_starts_again_from_initial() -> None:
    backoff = Backoff(0.5, 30.0)
    for _ in range(4):
        backoff.next_delay_s()

    backoff.reset()

    assert (backoff.attempt, backoff.next_delay_s()) == (0, 0.5)


def test_many_attempts_stay_at_the_cap_without_overflow() -> None:
    backoff = Backoff(0.5, 30.0)
    backoff.attempt = 5_000

    assert backoff.next_delay_s() == 30.0


def test_jitter_keeps_each_delay_between_half_and_whole() -> None:
    plain, jittered = Backoff(1.0, 8.0), Backoff(1.0, 8.0, random.Random(7))

    for _ in range(6):
        bound = plain.next_delay_s()
        assert bound / 2 <= jittered.next_delay_s() <= bound
