"""`GcHook`: a `gc.callbacks` entry that adds and removes itself."""

from __future__ import annotations

import abc
import gc


class GcHook(abc.ABC):
    """Base of the garbage-collector callbacks of this package."""

    @abc.abstractmethod
    def __call__(self, phase: str, info: dict[str, int]) -> None:
        """The callback: `phase` is "start" or "stop"; `info` has the collection's "generation"."""

    def install(self) -> None:
        """Add the hook to `gc.callbacks` (once, however often this is called)."""
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def uninstall(self) -> None:
        """Remove the hook from `gc.callbacks`."""
        if self in gc.callbacks:
            gc.callbacks.remove(self)
