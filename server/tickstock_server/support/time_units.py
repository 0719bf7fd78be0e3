"""Nanoseconds per unit: every timestamp and duration in the server is an int of nanoseconds."""

from __future__ import annotations

from typing import Final

NS_PER_US: Final = 1_000
NS_PER_MS: Final = 1_000_000
NS_PER_S: Final = 1_000_000_000
NS_PER_MINUTE: Final = 60 * NS_PER_S
NS_PER_HOUR: Final = 60 * NS_PER_MINUTE
US_PER_S: Final = 1_000_000
"""Microseconds per second: PostgreSQL and the producer's float epochs resolve microseconds."""
