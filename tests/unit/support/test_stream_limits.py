"""StreamLimiter: counts per user, the refusal at the limit, release, and the context manager."""

from __future__ import annotations

import pytest

from tickstock_server.errors import LimitExceededError
from tickstock_server.support.stream_limits import StreamLimiter


def test_acquire_beyond_the_limit_raises_with_the_limit_in_the_message() -> None:
    limiter = StreamLimiter(2, refusal="at most {limit} widgets per user")
    limiter.acquire("alice")
    limiter.acquire("alice")

    with pytest.raises(LimitExceededError, match="^at most 2 widgets per user$"):
        limiter.acquire("alice")

    assert limiter.open_streams("alice") == 2


def test_users_are_counted_separately() -> None:
    limiter = StreamLimiter(1, refusal="{limit}")
    limiter.acquire("alice")

    limiter.acquire("bob")

    assert (limiter.open_streams("alice"), limiter.open_streams("bob"), limiter.total) == (1, 1, 2)


def test_release_frees_a_slot_and_forgets_a_user_with_none_left() -> None:
    limiter = StreamLimiter(1, refusal="{limit}")
    limiter.acquire("alice")

    limiter.release("alice")
    limiter.release("alice")  # more releases than acquires never go negative

    assert (limiter.open_streams("alice"), limiter.total) == (0, 0)
    limiter.acquire("alice")


def test_hold_releases_when_the_block_raises() -> None:
    limiter = StreamLimiter(1, refusal="{limit}")

    with pytest.raises(RuntimeError), limiter.hold("alice"):
        assert limiter.open_streams("alice") == 1
        raise RuntimeError

    assert limiter.open_streams("alice") == 0


def test_hold_at_the_limit_raises_without_counting() -> None:
    limiter = StreamLimiter(1, refusal="{limit}")
    limiter.acquire("alice")

    with pytest.raises(LimitExceededError), limiter.hold("alice"):
        raise AssertionError("the block must not run")

    assert limiter.open_streams("alice") == 1
