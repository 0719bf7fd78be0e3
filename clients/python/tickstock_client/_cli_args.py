"""What the `tickstock` command modules share: the usage error, list arguments and JSON-line output."""

from __future__ import annotations

from typing import Any

from tickstock_client._json import to_json

__all__ = ["UsageError", "print_json_lines", "split"]


class UsageError(Exception):
    """Bad arguments or environment: exit code 2."""


def split(value: str) -> tuple[str, ...]:
    """A comma-separated argument as its non-empty parts."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def print_json_lines(result: Any) -> None:
    """One JSON line per model of `result` (a model, a list of them, or None for nothing)."""
    for item in result if isinstance(result, list) else [] if result is None else [result]:
        print(to_json(item), flush=True)
