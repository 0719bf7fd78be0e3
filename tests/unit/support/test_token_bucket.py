"""UserTokenBuckets: the burst, pacing of the debt at the rate, users apart, and a yield on every spend."""

from __future__ import annotations

import asyncio

import pytest

from tickstock_server.support.token_bucket import UserTokenBuckets


class _Clock:
    """A monotonic clock that moves only when a spender sleeps (or never); records the waits."""

    def __init__(self, *, advance: bool = True) -> None:
        self.now_s = 100.0
        self.waits: list[float] = []
        self._advance = advance

    def __call__(self) -> float:
        return self.now_s

    async def sleep(self, delay_s: float) -> None:
        self.waits.append(delay_s)
        self.now_s += delay_s if self._advance else 0.0
        await asyncio.sleep(0)


def _buckets(clock: _Clock, *, rate_per_s: float = 100.0, burst: int = 50) -> UserTokenBuckets:
    return UserTokenBuckets(rate_per_s=rate_per_s, burst=burst, clock=clock, sleep=clock.sleep)


async def test_spends_within_the_burst_only_yield() -> None:
    clock = _Clock()
    buckets = _buckets(clock)

    for _ in range(5):
        await buckets.spend("alice", 10)

    assert clock.waits == [0.0] * 5


async def test_a_spend_beyond_the_burst_waits_off_its_debt_at_the_rate() -> None:
    clock = _Clock()
    buckets = _buckets(clock, rate_per_s=100.0, burst=50)

    await buckets.spend("alice", 80)  # 30 beyond the burst: 0.3 s at 100/s
    await buckets.spend("alice", 10)  # the bucket is empty: 0.1 s

    assert clock.waits == pytest.approx([0.3, 0.1])


async def test_a_bucket_refills_at_the_rate_up_to_the_burst() -> None:
    clock = _Clock()
    buckets = _buckets(clock, rate_per_s=100.0, burst=50)
    await buckets.spend("alice", 50)

    clock.now_s += 60.0  # far longer than a refill: the bucket holds the burst, not more
    await buckets.spend("alice", 50)
    await buckets.spend("alice", 10)

    assert clock.waits == pytest.approx([0.0, 0.0, 0.1])


async def test_concurrent_spenders_of_one_user_share_its_rate() -> None:
    clock = _Clock(advance=False)  # the spenders start at one instant and wait side by side
    buckets = _buckets(clock, rate_per_s=100.0, burst=50)

    # Ten spenders of 50 at once: 500 tokens, 450 beyond the burst, so the last waits 4.5 s.
    await asyncio.gather(*(buckets.spend("alice", 50) for _ in range(10)))

    assert max(clock.waits) == pytest.approx(4.5)
    assert sorted(clock.waits) == pytest.approx([0.5 * i for i in range(10)])


async def test_another_users_spend_is_not_paced_by_a_busy_user() -> None:
    clock = _Clock()
    buckets = _buckets(clock, rate_per_s=100.0, burst=50)
    await buckets.spend("alice", 500)

    await buckets.spend("bob", 50)

    assert clock.waits == pytest.approx([4.5, 0.0])


def test_a_rate_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="rate_per_s must be above 0"):
        UserTokenBuckets(rate_per_s=0, burst=10)
