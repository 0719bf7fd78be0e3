"""`LogMarks` on the ``event_log_marks`` table (migration 0009)."""

from __future__ import annotations

import asyncpg

from tickstock_server.ports.events import LogMark
from tickstock_server.storage.database import map_asyncpg_errors


class PgLogMarks:
    """The event log's durable high-water mark in PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Use `pool`, which the caller owns and closes."""
        self._pool = pool

    async def get(self, key_prefix: str, epoch: str) -> LogMark | None:
        """The mark of `epoch`, or None. Raises DependencyUnavailableError when PostgreSQL is down."""
        with map_asyncpg_errors():
            row = await self._pool.fetchrow(
                "SELECT reserved, stored FROM event_log_marks WHERE key_prefix = $1 AND epoch = $2",
                key_prefix,
                epoch,
            )
        return None if row is None else LogMark(reserved=row["reserved"], stored=row["stored"])

    async def start(self, key_prefix: str, epoch: str, reserved: int) -> None:
        """Record a new epoch and forget the prefix's others (their streams are deleted)."""
        with map_asyncpg_errors():
            async with self._pool.acquire() as connection, connection.transaction():
                await connection.execute("DELETE FROM event_log_marks WHERE key_prefix = $1", key_prefix)
                await connection.execute(
                    "INSERT INTO event_log_marks (key_prefix, epoch, reserved, stored) "
                    "VALUES ($1, $2, $3, 0)",
                    key_prefix,
                    epoch,
                    reserved,
                )

    async def advance(self, key_prefix: str, epoch: str, *, reserved: int, stored: int) -> None:
        """Raise both marks of `epoch` (inserting the row of an epoch recorded before this table)."""
        with map_asyncpg_errors():
            await self._pool.execute(
                """
                INSERT INTO event_log_marks (key_prefix, epoch, reserved, stored) VALUES ($1, $2, $3, $4)
                ON CONFLICT (key_prefix, epoch) DO UPDATE SET
                    reserved = GREATEST(event_log_marks.reserved, EXCLUDED.reserved),
                    stored = GREATEST(event_log_marks.stored, EXCLUDED.stored),
                    updated_at = now()
                """,
                key_prefix,
                epoch,
                reserved,
                stored,
            )

    async def end(self, key_prefix: str, epoch: str, last_seq: int) -> None:
        """Record a clean end at `last_seq`: nothing after it was handed out, and all of it is stored."""
        with map_asyncpg_errors():
            await self._pool.execute(
                "UPDATE event_log_marks SET reserved = $3, stored = $3, updated_at = now() "
                "WHERE key_prefix = $1 AND epoch = $2",
                key_prefix,
                epoch,
                last_seq,
            )
