"""Per-user token buckets that pace work instead of refusing it: a user's spenders share one rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class UserTokenBuckets:
    """One token bucket per user: `rate_per_s` tokens a second, at most `burst` saved up.

    `spend` takes the tokens first and then waits off any debt, so every spender of one user shares the
    rate: ten concurrent spenders of one user each get about a tenth of it, and other users are not
    affected. It always yields to the event loop, even with tokens to spare, so a loop of spends never
    monopolises it.

    Kept as the time at which each user's bucket is full again (the "theoretical arrival time" of
    GCRA): a user whose bucket is full holds no state. Not thread-safe: use it from the event loop.
    """

    def __init__(
        self,
        *,
        rate_per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Create buckets, all full.

        Args:
            rate_per_s: Tokens a user gets back per second; above 0.
            burst: Tokens a user may spend at once before the rate applies; at least 1.
            clock: Monotonic seconds.
            sleep: Waits that many seconds (0 just yields to the event loop).
        """
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"rate_per_s must be above 0 and burst at least 1, not {rate_per_s}, {burst}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._full_at: dict[str, float] = {}

    async def spend(self, user: str, tokens: int) -> None:
        """Take `tokens` from `user`'s bucket, then wait until the bucket is out of debt."""
        now = self._clock()
        full_at = max(self._full_at.get(user, now), now) + tokens / self.rate_per_s
        self._full_at[user] = full_at
        self._forget_full(now)
        # Debt is what was spent beyond the burst; it is paid off at the rate.
        await self._sleep(max(full_at - now - self.burst / self.rate_per_s, 0.0))

    def _forget_full(self, now: float) -> None:
        for user in [user for user, full_at in self._full_at.items() if full_at <= now]:
            del self._full_at[user]
