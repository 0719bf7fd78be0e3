"""Models as JSON for the command line.

Names are snake_case as in the protos, integers are numbers, times RFC 3339 strings (days "2026-01-06",
times of day "22:00"), enumerations their lower-case names.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

__all__ = ["to_json", "to_plain"]


def to_plain(value: Any) -> Any:
    """`value` as JSON-ready builtins."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat(timespec="minutes")
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, tuple | list):
        return [to_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): to_plain(item) for key, item in value.items()}
    return value


def to_json(value: Any, **extra: Any) -> str:
    """One line of JSON for `value` (a model), with `extra` keys first."""
    plain = to_plain(value)
    if extra:
        plain = {**extra, **plain} if isinstance(plain, dict) else {**extra, "value": plain}
    return json.dumps(plain, separators=(",", ":"), ensure_ascii=False)
