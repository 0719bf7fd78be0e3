"""In-memory fake of the alert subscription port, behaving like the PostgreSQL store."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable

from tickstock_server.domain.alerts import (
    AlertSubscription,
    is_subscription_id,
    new_subscription_id,
    subscription_not_found,
)
from tickstock_server.support.time_units import NS_PER_US


class MemoryAlertStore:
    """`AlertStore` in a dict in creation order; like `PgAlertStore` it checks no rules.

    Creation times are `clock_ns` cut to microseconds, the precision PostgreSQL keeps.
    """

    def __init__(
        self, subscriptions: Iterable[AlertSubscription] = (), *, clock_ns: Callable[[], int] = time.time_ns
    ) -> None:
        """Hold `subscriptions` (they keep their ids); `clock_ns` (UTC epoch ns) stamps new ones."""
        self._clock_ns = clock_ns
        self._subscriptions = {stored.subscription_id: stored for stored in subscriptions}

    async def create_within_limit(
        self, subscription: AlertSubscription, *, max_per_user: int
    ) -> AlertSubscription | None:
        """Store a new subscription unless its user already has `max_per_user`; None then.

        Atomic: nothing awaits between the count and the insert.
        """
        held = sum(1 for stored in self._subscriptions.values() if stored.user == subscription.user)
        if held >= max_per_user:
            return None
        subscription_id = new_subscription_id()
        while subscription_id in self._subscriptions:
            subscription_id = new_subscription_id()
        stored = dataclasses.replace(
            subscription,
            subscription_id=subscription_id,
            create_ns=self._clock_ns() // NS_PER_US * NS_PER_US,
        )
        self._subscriptions[subscription_id] = stored
        return stored

    async def list(self, user: str) -> tuple[AlertSubscription, ...]:
        """The subscriptions of `user`, oldest first."""
        return tuple(stored for stored in self._subscriptions.values() if stored.user == user)

    async def get(self, user: str, subscription_id: str) -> AlertSubscription:
        """One subscription of `user`; NotFoundError for another user's, an unknown or a malformed id."""
        stored = self._subscriptions.get(subscription_id)
        if stored is None or stored.user != user or not is_subscription_id(subscription_id):
            raise subscription_not_found(subscription_id)
        return stored

    async def delete(self, user: str, subscription_id: str) -> None:
        """Delete one subscription of `user`; NotFoundError as for `get`."""
        await self.get(user, subscription_id)
        del self._subscriptions[subscription_id]

    async def all_subscriptions(self) -> tuple[AlertSubscription, ...]:
        """Every user's subscriptions, oldest first."""
        return tuple(self._subscriptions.values())
