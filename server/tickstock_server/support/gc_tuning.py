"""Garbage-collector tuning for a long-running server: freeze what start-up built, collect less often."""

from __future__ import annotations

import gc

__all__ = ["YOUNG_COLLECTION_THRESHOLD", "freeze_startup_heap"]

YOUNG_COLLECTION_THRESHOLD = 50_000
"""Net container allocations between young (generation 0) collections; CPython's default is 700.

At 100k ticks/s batches of ticks, events and log entries are alive in the thousands at any moment. With
700, young collections run hundreds of times a second in bursts, and each promotes whatever is in
flight to the older generations, where only a rarer, larger collection frees it, and those promotions
bring the next full collection closer. With 50_000 most of those objects die by reference counting
before a young collection sees them: far fewer collections, far fewer promotions. A young collection
then scans at most about 50_000 objects, a pause on the order of a millisecond;
``tickstock_gc_pause_seconds{generation="0"}`` shows whether that holds.
"""


def freeze_startup_heap() -> int:
    """Collect, freeze the survivors and raise the young-collection threshold: once, after start-up.

    The full collection frees start-up garbage first (frozen garbage would never be freed). `gc.freeze`
    then moves every surviving object (modules, code, classes, settings, the calendar, the gRPC
    machinery, caches and detector state built so far) to the permanent generation: collections never
    scan it again, so a full (generation 2) collection, which rescans every object not frozen, only
    walks what was allocated since. Frozen objects are still freed when their reference count drops to
    zero; only cycles among them would never be collected, which is why this belongs after start-up,
    when what exists lives for the whole process. The older generations keep their thresholds.

    Returns:
        How many objects are now frozen (for the start-up log).
    """
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, oldest)
    return gc.get_freeze_count()
