"""Ports for per-user named filter presets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tickstock_server.domain.filter_spec import FilterSpec, StoredPreset


class FilterPresetStore(Protocol):
    """Per-user named filter presets."""

    async def save(self, user: str, name: str, spec: FilterSpec) -> StoredPreset:
        """Create or replace; LimitExceededError beyond the per-user limit of presets."""
        ...

    async def list(self, user: str) -> Sequence[StoredPreset]:
        """The user's presets sorted by name."""
        ...

    async def get(self, user: str, name: str) -> StoredPreset:
        """One preset; NotFoundError when the user has none of that name."""
        ...

    async def delete(self, user: str, name: str) -> None:
        """Delete; NotFoundError when the user has none of that name."""
        ...
