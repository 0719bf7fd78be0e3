"""Backtest jobs in PostgreSQL: `PgBacktestStore` keeps each user's jobs, their progress and results."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any

import asyncpg

from tickstock_server.domain.backtests import (
    Backtest,
    BacktestCursor,
    BacktestOutcome,
    BacktestPage,
    BacktestParameters,
    BacktestResult,
    BacktestState,
    ProgressReport,
)
from tickstock_server.errors import NotFoundError
from tickstock_server.storage.database import map_asyncpg_errors
from tickstock_server.storage.timestamps import datetime_from_ns, ns_from_datetime

_COLUMNS = (
    "backtest_id, user_name, state, symbols, start_date, end_date, patterns, parameters, progress,"
    " current_symbol, estimated_completion_at, result, error_message, created_at, updated_at"
)
_ACTIVE = "('queued', 'running')"

# $1: user, $2/$3: created_at and id of the previous page's last row (NULL on the first page), $4: limit.
_LIST = f"""
SELECT {_COLUMNS}
FROM backtests
WHERE user_name = $1
  AND ($2::timestamptz IS NULL OR (created_at, backtest_id) < ($2::timestamptz, $3::text))
ORDER BY created_at DESC, backtest_id DESC
LIMIT $4
"""

# One statement for a whole batch of progress reports. Only active jobs change (a report arriving after
# the job ended is ignored); an empty symbol or a NULL estimate keeps the previous value.
_RECORD_PROGRESS = f"""
UPDATE backtests AS b
SET state = 'running',
    progress = u.progress,
    current_symbol = CASE WHEN u.current_symbol = '' THEN b.current_symbol ELSE u.current_symbol END,
    estimated_completion_at = COALESCE(u.estimated_completion_at, b.estimated_completion_at),
    updated_at = GREATEST(b.updated_at, u.reported_at),
    dispatched_at = COALESCE(b.dispatched_at, u.reported_at)
FROM unnest($1::text[], $2::float8[], $3::text[], $4::timestamptz[], $5::timestamptz[])
    AS u(backtest_id, progress, current_symbol, estimated_completion_at, reported_at)
WHERE b.backtest_id = u.backtest_id AND b.state IN {_ACTIVE}
RETURNING b.backtest_id
"""

_RECORD_OUTCOME = f"""
UPDATE backtests
SET state = $2,
    progress = CASE WHEN $2 = 'completed' THEN 1 ELSE progress END,
    result = $3::jsonb,
    error_message = $4,
    updated_at = GREATEST(updated_at, $5)
WHERE backtest_id = $1 AND state IN {_ACTIVE}
RETURNING {_COLUMNS}
"""

# $1: most in flight, $2: heard-since time (older dispatched jobs count as lost), $3: now. The next job is
# the oldest waiting one of the user with the fewest in flight; among those, of the user served longest ago.
_CLAIM_NEXT = f"""
WITH in_flight AS (
    SELECT user_name, count(*) AS jobs
    FROM backtests
    WHERE state IN {_ACTIVE} AND dispatched_at IS NOT NULL AND GREATEST(dispatched_at, updated_at) >= $2
    GROUP BY user_name
), next AS (
    SELECT w.backtest_id
    FROM backtests AS w LEFT JOIN in_flight AS f ON f.user_name = w.user_name
    WHERE w.state = 'queued'
      AND (w.dispatched_at IS NULL OR GREATEST(w.dispatched_at, w.updated_at) < $2)
      AND (SELECT COALESCE(sum(jobs), 0) FROM in_flight) < $1
    ORDER BY COALESCE(f.jobs, 0),
             (SELECT max(d.dispatched_at) FROM backtests AS d WHERE d.user_name = w.user_name) NULLS FIRST,
             w.created_at, w.backtest_id
    LIMIT 1
)
UPDATE backtests AS b
SET dispatched_at = $3
FROM next
WHERE b.backtest_id = next.backtest_id
RETURNING {", ".join("b." + column.strip() for column in _COLUMNS.split(","))}
"""
# Any constant key: claims of every process take this transaction lock, so the in-flight bound holds.
_DISPATCH_LOCK_KEY = 0x7E57_BAC7

_CANCEL = f"""
UPDATE backtests
SET state = 'cancelled', updated_at = GREATEST(updated_at, $3)
WHERE backtest_id = $1 AND user_name = $2 AND state IN {_ACTIVE}
RETURNING {_COLUMNS}
"""


class PgBacktestStore:
    """The ``backtests`` table (migration 0006): the `BacktestStore` port on PostgreSQL.

    Calls made for a client are scoped to one user: another user's backtest behaves exactly like one
    that does not exist (`NotFoundError`). Progress and outcomes come from the producer, which knows job
    ids only, so those calls are not scoped; they change active jobs only, which keeps final states final
    however late a message arrives.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Use `pool`, which the caller owns and closes."""
        self._pool = pool

    async def insert(self, backtest: Backtest) -> Backtest:
        """Store a new backtest and return it as stored (times at microsecond precision).

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            row = await self._pool.fetchrow(
                "INSERT INTO backtests (backtest_id, user_name, state, symbols, start_date, end_date,"
                " patterns, parameters, progress, current_symbol, estimated_completion_at, result,"
                " error_message, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12::jsonb, $13, $14, $15)"
                f" RETURNING {_COLUMNS}",
                backtest.backtest_id,
                backtest.user,
                backtest.state.value,
                list(backtest.symbols),
                backtest.start_date,
                backtest.end_date,
                list(backtest.patterns),
                json.dumps(asdict(backtest.parameters)),
                backtest.progress,
                backtest.current_symbol,
                _datetime_or_none(backtest.estimated_completion_ns),
                _result_json(backtest.result),
                backtest.error_message,
                datetime_from_ns(backtest.create_ns),
                datetime_from_ns(backtest.update_ns),
            )
        return _backtest_from_row(row)

    async def get(self, user: str, backtest_id: str) -> Backtest:
        """Return one backtest of `user`.

        Raises:
            NotFoundError: No such backtest of `user` (including another user's).
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            row = await self._pool.fetchrow(
                f"SELECT {_COLUMNS} FROM backtests WHERE backtest_id = $1 AND user_name = $2",
                backtest_id,
                user,
            )
        if row is None:
            raise _not_found(backtest_id)
        return _backtest_from_row(row)

    async def list(self, user: str, *, limit: int, after: BacktestCursor | None = None) -> BacktestPage:
        """Return up to `limit` backtests of `user`, newest first, starting after the cursor `after`.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            rows = await self._pool.fetch(
                _LIST,
                user,
                None if after is None else datetime_from_ns(after[0]),
                None if after is None else after[1],
                limit + 1,  # one more than the page tells whether another page follows
            )
        return BacktestPage(
            backtests=tuple(_backtest_from_row(row) for row in rows[:limit]), more=len(rows) > limit
        )

    async def cancel(self, user: str, backtest_id: str, *, now_ns: int) -> tuple[Backtest, bool]:
        """Mark one active backtest of `user` CANCELLED.

        Returns:
            The backtest after the call, and whether this call cancelled it (False: it had already
            ended, and is returned unchanged).

        Raises:
            NotFoundError: No such backtest of `user` (including another user's).
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            row = await self._pool.fetchrow(_CANCEL, backtest_id, user, datetime_from_ns(now_ns))
        if row is not None:
            return _backtest_from_row(row), True
        return await self.get(user, backtest_id), False

    async def count_active(self, user: str) -> int:
        """How many backtests of `user` are QUEUED or RUNNING.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            count: int = await self._pool.fetchval(
                f"SELECT count(*) FROM backtests WHERE user_name = $1 AND state IN {_ACTIVE}", user
            )
        return count

    async def claim_next(self, *, max_in_flight: int, heard_since_ns: int, now_ns: int) -> Backtest | None:
        """Mark the next backtest to hand to the producer as dispatched (see the port); return it.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            async with self._pool.acquire() as connection, connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock($1)", _DISPATCH_LOCK_KEY)
                row = await connection.fetchrow(
                    _CLAIM_NEXT, max_in_flight, datetime_from_ns(heard_since_ns), datetime_from_ns(now_ns)
                )
        return None if row is None else _backtest_from_row(row)

    async def release_claim(self, backtest_id: str) -> None:
        """Put a claimed backtest back in the queue when it is still QUEUED.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            await self._pool.execute(
                "UPDATE backtests SET dispatched_at = NULL WHERE backtest_id = $1 AND state = 'queued'",
                backtest_id,
            )

    async def record_progress(self, reports: Sequence[ProgressReport]) -> frozenset[str]:
        """Apply progress reports (one per backtest) to the backtests that are still active.

        Returns:
            The ids of the backtests that changed; the others are unknown or have ended.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        if not reports:
            return frozenset()
        with map_asyncpg_errors():
            rows = await self._pool.fetch(
                _RECORD_PROGRESS,
                [report.backtest_id for report in reports],
                [report.progress for report in reports],
                [report.current_symbol for report in reports],
                [_datetime_or_none(report.estimated_completion_ns) for report in reports],
                [datetime_from_ns(report.reported_ns) for report in reports],
            )
        return frozenset(row["backtest_id"] for row in rows)

    async def record_outcome(
        self, backtest_id: str, outcome: BacktestOutcome, *, now_ns: int
    ) -> Backtest | None:
        """End one active backtest (any user's) with `outcome`.

        Returns:
            The backtest after the change; None when it is unknown or has already ended.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            row = await self._pool.fetchrow(
                _RECORD_OUTCOME,
                backtest_id,
                outcome.state.value,
                _result_json(outcome.result),
                outcome.error_message.replace("\x00", ""),
                datetime_from_ns(now_ns),
            )
        return None if row is None else _backtest_from_row(row)


def _not_found(backtest_id: str) -> NotFoundError:
    return NotFoundError(f"no backtest {backtest_id[:100]!r}")


def _datetime_or_none(ts_ns: int | None) -> dt.datetime | None:
    return None if ts_ns is None else datetime_from_ns(ts_ns)


def _json_safe(value: Any) -> Any:
    """`value` as jsonb takes it: no NaN or Infinity (they become None), no NUL characters in strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_json_safe(str(key)): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def _result_json(result: BacktestResult | None) -> str | None:
    if result is None:
        return None
    # Not `asdict`: it deep-copies, and the producer's details are a read-only mapping it cannot copy.
    body = {field.name: getattr(result, field.name) for field in fields(result)}
    body["details"] = dict(result.details)
    return json.dumps(_json_safe(body), default=str)


def _result_from_json(text: str | None) -> BacktestResult | None:
    if text is None:
        return None
    body: dict[str, Any] = json.loads(text)
    return BacktestResult(
        total_return=body["total_return"],
        win_rate=body["win_rate"],
        total_trades=body["total_trades"],
        sharpe_ratio=body["sharpe_ratio"],
        max_drawdown=body["max_drawdown"],
        details=body["details"],
    )


def _backtest_from_row(row: asyncpg.Record) -> Backtest:
    estimated = row["estimated_completion_at"]
    return Backtest(
        backtest_id=row["backtest_id"],
        user=row["user_name"],
        state=BacktestState(row["state"]),
        symbols=tuple(row["symbols"]),
        start_date=row["start_date"],
        end_date=row["end_date"],
        patterns=tuple(row["patterns"]),
        parameters=BacktestParameters(**json.loads(row["parameters"])),
        progress=row["progress"],
        current_symbol=row["current_symbol"],
        estimated_completion_ns=None if estimated is None else ns_from_datetime(estimated),
        result=_result_from_json(row["result"]),
        error_message=row["error_message"],
        create_ns=ns_from_datetime(row["created_at"]),
        update_ns=ns_from_datetime(row["updated_at"]),
    )
