"""Which objects of given types only the cyclic garbage collector could free.

A long-running server freezes its heap between thaws (`support/gc_tuning.py`), so anything a stream
leaves in a reference cycle stays until the next thaw: at churn rates of streams per second, that is
memory growth. The tests built on this check that what a stream or queue holds is freed by reference
counting alone.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def cyclic_garbage(*types: type) -> Iterator[list[object]]:
    """Collect first, then record the cycles made in the block; the list holds the objects of `types`.

    The list is filled when the block exits (after one full collection that saves what it finds).
    """
    found: list[object] = []
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
        found.extend(item for item in gc.garbage if isinstance(item, types))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
