"""Bars PostgreSQL rejects for their data: isolated by splitting the rejected write, kept aside."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
from asyncpg.exceptions._base import DataError as EncodeError

from tickstock_server.domain.bar import Bar
from tickstock_server.storage.bar_upsert import upsert_bars

__all__ = ["DATA_ERRORS", "Rejected", "upsert_or_quarantine"]

_logger = logging.getLogger(__name__)

DATA_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.DataError,  # SQLSTATE class 22, e.g. a NUL in a text value, a time out of range
    asyncpg.IntegrityConstraintViolationError,  # class 23
    EncodeError,  # asyncpg cannot encode a query argument, e.g. an integer beyond bigint
    OverflowError,  # the same in a COPY, where asyncpg's encoder raises it bare
)
"""Rejections of the rows themselves: writing the same rows again fails the same way."""

_MAX_TEXT = 1_000
"""Longest bar or reason text kept, in characters."""

_QUARANTINE = """
INSERT INTO ohlcv_1min_quarantine (symbol, start_ns, bar, reason)
SELECT * FROM unnest($1::text[], $2::numeric[], $3::text[], $4::text[])
"""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A bar PostgreSQL refused to store, and why."""

    bar: Bar
    reason: str
    """The error's type and message."""


async def upsert_or_quarantine(
    pool: asyncpg.Pool, bars: list[Bar], timeout_s: float, *, copy: bool
) -> list[Rejected]:
    """Merge `bars` into ``ohlcv_1min``; bars rejected for their data go to ``ohlcv_1min_quarantine``.

    `copy` is `upsert_bars`' choice of COPY or arrays.

    A write rejected for its data is split in halves, recursively, until the rejected bars stand alone,
    so the others are written (k bad bars among n cost about k * log2(n) more statements). The
    rejected ones are inserted into the quarantine table (migration 0011) once all the rest is written.

    Returns:
        The quarantined bars, in `bars` order.

    Raises:
        One of FLUSH_ERRORS other than DATA_ERRORS (PostgreSQL down, restarting or unreachable, or a
        timeout); then nothing is quarantined, and bars of halves already written stay written (the
        merge is idempotent, so writing them again is harmless).
    """
    rejected = await _isolate(pool, bars, timeout_s, copy)
    if rejected:
        columns = (
            [_escaped(item.bar.symbol) for item in rejected],
            [Decimal(item.bar.start_ns) for item in rejected],
            [repr(item.bar)[:_MAX_TEXT] for item in rejected],
            [item.reason[:_MAX_TEXT] for item in rejected],
        )
        async with pool.acquire() as conn:
            await conn.execute(_QUARANTINE, *columns, timeout=timeout_s)
        _logger.error(
            "%d bars rejected by PostgreSQL for their data were moved to ohlcv_1min_quarantine, e.g. %s %s",
            len(rejected),
            columns[0][0],
            rejected[0].reason[:200],
        )
    return rejected


async def _isolate(pool: asyncpg.Pool, bars: list[Bar], timeout_s: float, copy: bool) -> list[Rejected]:
    try:
        await upsert_bars(pool, bars, timeout_s, copy=copy)
    except DATA_ERRORS as exc:
        if len(bars) == 1:
            return [Rejected(bars[0], f"{type(exc).__name__}: {exc}")]
        middle = len(bars) // 2
        first = await _isolate(pool, bars[:middle], timeout_s, copy)
        return first + await _isolate(pool, bars[middle:], timeout_s, copy)
    return []


def _escaped(text: str) -> str:
    """`text` with non-printable characters (NUL among them) as Python escapes, at most 100 characters."""
    return text.encode("unicode_escape").decode("ascii")[:100]
