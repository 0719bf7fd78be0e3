"""The pattern mirror's value format: a `Pattern` as compact, versioned JSON, and back.

Version 1 (short keys; absent optional fields are left out)::

    {"v": 1, "id": str, "sym": str, "type": str, "conf": float, "price": float | null, "chg": float,
     "det": int (ns), "exp": int (ns), "tf": "daily" | "intraday" | "combo" | null,
     "src": "producer" | "fallback", "ind": {"rs": float, "rv": float, "rsi": float}, "flow": str}

Values are written by this service but read back from a shared Redis, possibly written by another
version: decoding checks every field and raises `ValueError` rather than trusting them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tickstock_server.domain.patterns import Pattern, PatternIndicators, PatternSource, PatternTimeframe

FORMAT_VERSION = 1
"""Version written by `pattern_to_json`; the only one `pattern_from_json` reads."""

_INDICATOR_KEYS = (("rs", "relative_strength"), ("rv", "relative_volume"), ("rsi", "rsi"))


def pattern_to_dict(pattern: Pattern) -> dict[str, Any]:
    """`pattern` as a version-1 dict of JSON types."""
    data: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "id": pattern.pattern_id,
        "sym": pattern.symbol,
        "type": pattern.pattern_type,
        "conf": pattern.confidence,
        "price": pattern.price,
        "chg": pattern.price_change_pct,
        "det": pattern.detected_ns,
        "exp": pattern.expires_ns,
        "tf": pattern.timeframe.value if pattern.timeframe is not None else None,
        "src": pattern.source.value,
    }
    indicators = {
        short: value
        for short, name in _INDICATOR_KEYS
        if (value := getattr(pattern.indicators, name)) is not None
    }
    if indicators:
        data["ind"] = indicators
    if pattern.flow_id:
        data["flow"] = pattern.flow_id
    return data


def pattern_from_dict(data: Mapping[str, Any]) -> Pattern:
    """The pattern of a version-1 dict.

    Raises:
        ValueError: Another version, or a missing or mistyped field.
    """
    if data.get("v") != FORMAT_VERSION:
        raise ValueError(f"unsupported pattern format version {data.get('v')!r}")
    indicators = data.get("ind", {})
    if not isinstance(indicators, Mapping):
        raise ValueError("field 'ind' is not an object")
    timeframe = data.get("tf")
    if timeframe is not None and not isinstance(timeframe, str):
        raise ValueError("field 'tf' is not a string")
    flow_id = data.get("flow", "")
    if not isinstance(flow_id, str):
        raise ValueError("field 'flow' is not a string")
    return Pattern(
        pattern_id=_str(data, "id"),
        symbol=_str(data, "sym"),
        pattern_type=_str(data, "type"),
        confidence=_number(data, "conf"),
        price=_optional_number(data, "price"),
        price_change_pct=_number(data, "chg"),
        detected_ns=_int(data, "det"),
        expires_ns=_int(data, "exp"),
        timeframe=PatternTimeframe(timeframe) if timeframe is not None else None,
        source=PatternSource(_str(data, "src")),
        indicators=PatternIndicators(
            **{name: _optional_number(indicators, short) for short, name in _INDICATOR_KEYS}
        ),
        flow_id=flow_id,
    )


def pattern_to_json(pattern: Pattern) -> str:
    """`pattern` as compact version-1 JSON."""
    return json.dumps(pattern_to_dict(pattern), separators=(",", ":"))


def pattern_from_json(raw: bytes | str) -> Pattern:
    """The pattern of version-1 JSON.

    Raises:
        ValueError: Not JSON, not an object, another version, or a missing or mistyped field.
    """
    data = json.loads(raw)  # json.JSONDecodeError is a ValueError
    if not isinstance(data, dict):
        raise ValueError("pattern JSON is not an object")
    return pattern_from_dict(data)


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"field {key!r} is not a string")
    return value


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"field {key!r} is not an integer")
    return value


def _number(data: Mapping[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"field {key!r} is not a number")
    return float(value)


def _optional_number(data: Mapping[str, Any], key: str) -> float | None:
    return None if data.get(key) is None else _number(data, key)
