"""Freezing the start-up heap: garbage collected first, survivors frozen."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from tickstock_server.support.gc_tuning import freeze_startup_heap


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[tuple[int, int, int]]:
    thresholds = gc.get_threshold()
    assert gc.get_freeze_count() == 0, "something else froze the heap: unfreezing would undo it"
    yield thresholds
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class _Node:
    def __init__(self) -> None:
        self.partner: _Node = self


def test_survivors_are_frozen_out_of_later_collections(_restore_gc: tuple[int, int, int]) -> None:
    long_lived = [_Node()]

    frozen = freeze_startup_heap()

    # A frozen object that dies afterwards (another thread's, or a finalizer's) leaves the frozen set,
    # so the count can only have dropped since the freeze.
    assert 0 < gc.get_freeze_count() <= frozen
    assert not any(obj is long_lived for obj in gc.get_objects())  # never scanned again
    assert gc.get_threshold() == _restore_gc  # the thresholds stay


def test_startup_garbage_is_collected_not_frozen() -> None:
    cycle = _Node()
    gone = weakref.ref(cycle)
    del cycle

    freeze_startup_heap()

    assert gone() is None
