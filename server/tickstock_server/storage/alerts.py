"""Alert subscriptions in PostgreSQL: `PgAlertStore` keeps each user's subscriptions, visible to them only."""

from __future__ import annotations

import asyncpg

from tickstock_server.domain.alerts import (
    AlertSubscription,
    QuietHours,
    TimeOfDay,
    is_subscription_id,
    new_subscription_id,
    subscription_not_found,
)
from tickstock_server.storage.database import map_asyncpg_errors
from tickstock_server.storage.timestamps import ns_from_datetime

# First key of the two-key advisory lock that serialises one user's creates, so that two concurrent
# creates cannot both pass the per-user count check. The second key is hashtext(user name).
_LOCK_NAMESPACE = 0xA1E7  # only needs to differ from the other two-key locks of this database

_COLUMNS = (
    "subscription_id, user_name, pattern_types, symbols, universes, min_confidence, quiet_start_minute,"
    " quiet_end_minute, time_zone, max_alerts_per_hour, created_at"
)


class PgAlertStore:
    """`AlertStore` over the ``alert_subscriptions`` table (migration 0005), scoped to one user per call.

    Another user's subscription behaves exactly like one that does not exist (`NotFoundError`), so ids
    reveal nothing across users. Nothing is validated here: `AlertService` checks the rules first.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Use `pool`, which the caller owns and closes."""
        self._pool = pool

    async def create_within_limit(
        self, subscription: AlertSubscription, *, max_per_user: int
    ) -> AlertSubscription | None:
        """Store a new subscription of ``subscription.user`` unless it already has `max_per_user`.

        The count and the insert run in one transaction holding a per-user advisory lock, so
        concurrent creates of one user are serialised and never pass the limit together.

        Args:
            subscription: A validated subscription; its `subscription_id` and `create_ns` are ignored
                and assigned here.
            max_per_user: Most subscriptions the user may hold once this one is stored.

        Returns:
            The subscription as stored, with its id and creation time; None when the user already holds
            `max_per_user` or more (nothing is stored).

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        user = subscription.user
        quiet = subscription.quiet_hours
        with map_asyncpg_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_NAMESPACE, user)
                count = await conn.fetchval(
                    "SELECT count(*) FROM alert_subscriptions WHERE user_name = $1", user
                )
                if count >= max_per_user:
                    return None
                row = await conn.fetchrow(
                    "INSERT INTO alert_subscriptions (subscription_id, user_name, pattern_types, symbols,"
                    " universes, min_confidence, quiet_start_minute, quiet_end_minute, time_zone,"
                    " max_alerts_per_hour) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                    f" RETURNING {_COLUMNS}",
                    new_subscription_id(),
                    user,
                    list(subscription.pattern_types),
                    list(subscription.symbols),
                    list(subscription.universes),
                    float(subscription.min_confidence),
                    None if quiet is None else quiet.start.minute_of_day,
                    None if quiet is None else quiet.end.minute_of_day,
                    subscription.time_zone,
                    subscription.max_alerts_per_hour,
                )
        return _subscription_from_row(row)

    async def list(self, user: str) -> tuple[AlertSubscription, ...]:
        """Return the subscriptions of `user`, oldest first.

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            rows = await self._pool.fetch(
                f"SELECT {_COLUMNS} FROM alert_subscriptions WHERE user_name = $1 ORDER BY seq", user
            )
        return tuple(_subscription_from_row(row) for row in rows)

    async def get(self, user: str, subscription_id: str) -> AlertSubscription:
        """Return one subscription of `user`.

        Raises:
            NotFoundError: No such subscription of `user` (including another user's, and malformed ids).
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        _check_id(subscription_id)
        with map_asyncpg_errors():
            row = await self._pool.fetchrow(
                f"SELECT {_COLUMNS} FROM alert_subscriptions WHERE subscription_id = $1 AND user_name = $2",
                subscription_id,
                user,
            )
        if row is None:
            raise subscription_not_found(subscription_id)
        return _subscription_from_row(row)

    async def delete(self, user: str, subscription_id: str) -> None:
        """Delete one subscription of `user`.

        Raises:
            NotFoundError: No such subscription of `user` (including another user's, and malformed ids).
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        _check_id(subscription_id)
        with map_asyncpg_errors():
            status: str = await self._pool.execute(
                "DELETE FROM alert_subscriptions WHERE subscription_id = $1 AND user_name = $2",
                subscription_id,
                user,
            )
        # The command tag reads "DELETE <rows>".
        if status != "DELETE 1":
            raise subscription_not_found(subscription_id)

    async def all_subscriptions(self) -> tuple[AlertSubscription, ...]:
        """Return every user's subscriptions, oldest first (to load the alert router).

        Raises:
            DependencyUnavailableError: PostgreSQL is unreachable.
        """
        with map_asyncpg_errors():
            rows = await self._pool.fetch(f"SELECT {_COLUMNS} FROM alert_subscriptions ORDER BY seq")
        return tuple(_subscription_from_row(row) for row in rows)


def _check_id(subscription_id: str) -> None:
    # A malformed id names no subscription: NOT_FOUND, like any other id the caller does not own.
    if not is_subscription_id(subscription_id):
        raise subscription_not_found(subscription_id)


def _time_of_day(minute_of_day: int) -> TimeOfDay:
    hours, minutes = divmod(minute_of_day, 60)
    return TimeOfDay(hours=hours, minutes=minutes)


def _subscription_from_row(row: asyncpg.Record) -> AlertSubscription:
    start, end = row["quiet_start_minute"], row["quiet_end_minute"]
    return AlertSubscription(
        subscription_id=row["subscription_id"],
        user=row["user_name"],
        pattern_types=tuple(row["pattern_types"]),
        symbols=tuple(row["symbols"]),
        universes=tuple(row["universes"]),
        min_confidence=row["min_confidence"],
        quiet_hours=None if start is None else QuietHours(start=_time_of_day(start), end=_time_of_day(end)),
        time_zone=row["time_zone"],
        max_alerts_per_hour=row["max_alerts_per_hour"],
        create_ns=ns_from_datetime(row["created_at"]),
    )
