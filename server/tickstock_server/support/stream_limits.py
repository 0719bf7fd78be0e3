"""Per-user stream limits: how many streams of one kind each user holds, and the refusal beyond the limit."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

from tickstock_server.errors import LimitExceededError


class StreamLimiter:
    """Counts the open streams of each user and refuses one beyond `max_per_user`.

    Call `acquire` before opening a stream and `release` once for each successful `acquire` when it
    closes, or wrap the stream's life in `hold`. Not thread-safe: use it from the event loop.
    """

    def __init__(self, max_per_user: int, *, refusal: str) -> None:
        """Create a limiter with no open streams.

        Args:
            max_per_user: Most streams one user may hold at once.
            refusal: Message of the `LimitExceededError` raised at the limit; ``{limit}`` stands for
                `max_per_user`.
        """
        self.max_per_user = max_per_user
        self._refusal = refusal.format(limit=max_per_user)
        self._open: Counter[str] = Counter()

    def acquire(self, user: str) -> None:
        """Count one more open stream of `user`.

        Raises:
            LimitExceededError: `user` already holds `max_per_user` streams; nothing was counted.
        """
        if self._open[user] >= self.max_per_user:
            raise LimitExceededError(self._refusal)
        self._open[user] += 1

    def release(self, user: str) -> None:
        """Count one stream of `user` fewer; a user with none left is forgotten."""
        left = self._open[user] - 1
        if left > 0:
            self._open[user] = left
        else:
            self._open.pop(user, None)

    @contextlib.contextmanager
    def hold(self, user: str) -> Iterator[None]:
        """`acquire` on entry and `release` on exit, however the block ends."""
        self.acquire(user)
        try:
            yield
        finally:
            self.release(user)

    def open_streams(self, user: str) -> int:
        """Streams `user` holds now."""
        return self._open[user]

    @property
    def total(self) -> int:
        """Streams all users hold now."""
        return sum(self._open.values())
