"""The behaviour every PatternMirror must have, run against each implementation (memory and Redis).

Subclasses provide a `mirror` fixture; pytest collects the inherited tests for each of them. Times are
relative to the wall clock, as a real Redis expires keys on its own clock.
"""

from __future__ import annotations

import time

from factories import HOUR_NS, NS_PER_S, make_pattern

from tickstock_server.ports.patterns import PatternMirror


class PatternMirrorContract:
    """Tests of the PatternMirror port."""

    async def test_stored_patterns_load_back_equal(self, mirror: PatternMirror) -> None:
        # Arrange
        now_ns = time.time_ns()
        stored = [
            make_pattern("a", expires_ns=now_ns + HOUR_NS),
            make_pattern("b", expires_ns=now_ns + 2 * HOUR_NS),
        ]

        # Act
        await mirror.store(stored)

        # Assert
        assert sorted(await mirror.load(now_ns), key=lambda p: p.pattern_id) == stored

    async def test_storing_an_id_again_replaces_the_pattern(self, mirror: PatternMirror) -> None:
        # Arrange
        now_ns = time.time_ns()
        await mirror.store([make_pattern("a", expires_ns=now_ns + HOUR_NS, confidence=0.6)])

        # Act
        await mirror.store([make_pattern("a", expires_ns=now_ns + HOUR_NS, confidence=0.9)])

        # Assert
        assert [p.confidence for p in await mirror.load(now_ns)] == [0.9]

    async def test_load_returns_only_patterns_current_at_now(self, mirror: PatternMirror) -> None:
        # Arrange
        now_ns = time.time_ns()
        await mirror.store(
            [
                make_pattern("early", expires_ns=now_ns + HOUR_NS),
                make_pattern("late", expires_ns=now_ns + 2 * HOUR_NS),
            ]
        )

        # Act
        loaded = await mirror.load(now_ns + HOUR_NS)

        # Assert
        assert [p.pattern_id for p in loaded] == ["late"]

    async def test_cleanup_forgets_what_expired_and_counts_it(self, mirror: PatternMirror) -> None:
        # Arrange
        now_ns = time.time_ns()
        await mirror.store(
            [
                make_pattern("early", expires_ns=now_ns + HOUR_NS),
                make_pattern("late", expires_ns=now_ns + 2 * HOUR_NS),
            ]
        )

        # Act: a second after "early" expired (Redis keeps expiry in whole milliseconds)
        removed = await mirror.cleanup(now_ns + HOUR_NS + NS_PER_S)

        # Assert
        assert removed == 1
        assert [p.pattern_id for p in await mirror.load(now_ns)] == ["late"]

    async def test_storing_nothing_is_harmless(self, mirror: PatternMirror) -> None:
        # Act
        await mirror.store([])

        # Assert
        assert await mirror.load(time.time_ns()) == []
