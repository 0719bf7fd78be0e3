"""In-memory fake of the filter preset port, with the PostgreSQL store's validation and limits."""

from __future__ import annotations

import time
from collections.abc import Callable

from tickstock_server.domain.filter_spec import FilterSpec, StoredPreset
from tickstock_server.errors import LimitExceededError, NotFoundError


class MemoryFilterPresetStore:
    """`FilterPresetStore` in a dict, with the same per-user limit as `PgFilterPresetStore`."""

    def __init__(self, *, max_per_user: int = 50, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self._presets: dict[tuple[str, str], StoredPreset] = {}
        self._max_per_user = max_per_user
        self._clock_ns = clock_ns

    async def save(self, user: str, name: str, spec: FilterSpec) -> StoredPreset:
        """Create or replace; LimitExceededError for a new one beyond the limit."""
        others = sum(1 for owner, other in self._presets if owner == user and other != name)
        if others >= self._max_per_user:
            raise LimitExceededError(f"a user may keep at most {self._max_per_user} filter presets")
        preset = StoredPreset(name=name, spec=spec, update_ns=self._clock_ns())
        self._presets[user, name] = preset
        return preset

    async def list(self, user: str) -> tuple[StoredPreset, ...]:
        """The user's presets sorted by name."""
        return tuple(p for (owner, _), p in sorted(self._presets.items()) if owner == user)

    async def get(self, user: str, name: str) -> StoredPreset:
        """One preset; NotFoundError when absent."""
        if (user, name) not in self._presets:
            raise NotFoundError(f"no filter preset named {name!r}")
        return self._presets[user, name]

    async def delete(self, user: str, name: str) -> None:
        """Delete; NotFoundError when absent."""
        if self._presets.pop((user, name), None) is None:
            raise NotFoundError(f"no filter preset named {name!r}")
