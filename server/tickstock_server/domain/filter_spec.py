"""An event filter as the client wrote it: symbols, universes, watchlists and criteria, unresolved.

A `FilterSpec` is what presets store: universes and watchlists stay names, so a saved preset follows their
later changes. `delivery.resolve.resolve_filter` expands it into the filter a subscription runs with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tickstock_server.domain.events import Direction, EventType, SurgeStrength, TrendStrength


@dataclass(frozen=True, slots=True, kw_only=True)
class FilterSpec:
    """An unresolved, validated filter. Empty tuples and None bounds select everything."""

    symbols: tuple[str, ...] = ()
    universes: tuple[str, ...] = ()
    """Universe keys, e.g. "sp500" or "sp500:nasdaq100"."""
    watchlist_ids: tuple[str, ...] = ()
    """Ids of the owner's watchlists."""
    event_types: tuple[EventType, ...] = ()
    directions: tuple[Direction, ...] = ()
    min_significance: float | None = None
    min_trend_strength: TrendStrength | None = None
    min_surge_strength: SurgeStrength | None = None
    min_pattern_confidence: float | None = None
    min_price: float | None = None
    max_price: float | None = None
    min_volume: int | None = None
    max_volume: int | None = None

    def over(self, base: FilterSpec) -> FilterSpec:
        """Lay this filter over `base` (a preset): each non-empty field here replaces base's."""
        changes = {
            field.name: value
            for field in dataclasses.fields(self)
            if (value := getattr(self, field.name)) not in ((), None)
        }
        return dataclasses.replace(base, **changes)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (enums by value), for storage."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value in ((), None):
                continue
            if isinstance(value, tuple):
                out[field.name] = [item.value if hasattr(item, "value") else item for item in value]
            else:
                out[field.name] = value.value if hasattr(value, "value") else value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FilterSpec:
        """The inverse of `to_json`."""

        def optional(name: str, kind: type[Any]) -> Any:
            return None if data.get(name) is None else kind(data[name])

        return cls(
            symbols=tuple(data.get("symbols", ())),
            universes=tuple(data.get("universes", ())),
            watchlist_ids=tuple(data.get("watchlist_ids", ())),
            event_types=tuple(EventType(value) for value in data.get("event_types", ())),
            directions=tuple(Direction(value) for value in data.get("directions", ())),
            min_significance=optional("min_significance", float),
            min_trend_strength=optional("min_trend_strength", TrendStrength),
            min_surge_strength=optional("min_surge_strength", SurgeStrength),
            min_pattern_confidence=optional("min_pattern_confidence", float),
            min_price=optional("min_price", float),
            max_price=optional("max_price", float),
            min_volume=optional("min_volume", int),
            max_volume=optional("max_volume", int),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredPreset:
    """A named filter of one user, as stored."""

    name: str
    spec: FilterSpec
    update_ns: int
    """Time of the last save, UTC epoch ns."""
