"""Stable hashes of detector configurations, recorded on every event as provenance."""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
from typing import Any

__all__ = ["config_hash"]


def _canonical(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"cannot hash {type(value).__name__} in a detector configuration")


@functools.lru_cache(maxsize=256)
def config_hash(config: Any) -> str:
    """Return a short hex SHA-256 of every field of a frozen dataclass configuration.

    Equal configurations give equal hashes across processes and versions of Python: fields are
    serialised as sorted-key JSON (enums by value, dict keys as strings, infinities as `Infinity`,
    an integral float as the integer: a float field given `50` holds the int 50 when interpreted and the
    float 50.0 when compiled by mypyc, and both builds must give one hash).

    Args:
        config: A frozen (hashable) dataclass instance, possibly nesting dataclasses, tuples, dicts and enums.
    """
    fields = dataclasses.asdict(config)
    canonical = json.dumps(_stringify_keys(fields), sort_keys=True, separators=(",", ":"), default=_canonical)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _stringify_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            (key.value if isinstance(key, enum.Enum) else str(key)): _stringify_keys(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_stringify_keys(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
