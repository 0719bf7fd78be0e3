"""Freezing the start-up heap: garbage collected first, survivors frozen."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from tickstock_server.support.gc_tuning import SurvivorFreezer, freeze_startup_heap


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


class _Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def freezer() -> Iterator[tuple[SurvivorFreezer, _Clock]]:
    clock = _Clock()
    hook = SurvivorFreezer(thaw_interval_s=600, clock_s=clock)
    hook.install()
    try:
        yield hook, clock
    finally:
        hook.uninstall()


def test_a_full_collection_freezes_its_survivors(freezer: tuple[SurvivorFreezer, _Clock]) -> None:
    hook, _ = freezer
    survivor = [_Node()]
    garbage = _Node()
    gone = weakref.ref(garbage)
    del garbage

    gc.collect()

    assert gone() is None  # the collection ran first: garbage is freed, not frozen
    assert not any(obj is survivor for obj in gc.get_objects())  # the survivor is never rescanned
    assert hook.freezes == 1


def test_young_collections_freeze_nothing(freezer: tuple[SurvivorFreezer, _Clock]) -> None:
    hook, _ = freezer
    survivor = [_Node()]

    gc.collect(0)
    gc.collect(1)

    assert any(obj is survivor for obj in gc.get_objects())
    assert hook.freezes == 0


def test_a_frozen_cycle_that_dies_is_freed_by_the_first_full_collection_after_the_thaw_interval(
    freezer: tuple[SurvivorFreezer, _Clock],
) -> None:
    hook, clock = freezer
    cycle = _Node()
    gone = weakref.ref(cycle)
    gc.collect()  # frozen alive
    del cycle

    gc.collect()  # before the interval: still frozen, so not freed
    kept = gone() is not None
    clock.now_s = 600.0
    gc.collect()  # thawed first, then collected and frozen again

    assert kept
    assert gone() is None
    assert hook.thaws == 1
    assert gc.get_freeze_count() > 0
