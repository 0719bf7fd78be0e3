"""Port for alert subscriptions: each user's standing requests, visible to that user only."""

from __future__ import annotations

from typing import Protocol

from tickstock_server.domain.alerts import AlertSubscription


class AlertStore(Protocol):
    """Stores alert subscriptions (PgAlertStore, MemoryAlertStore).

    Reads and deletes are scoped to one user: another user's subscription, and an id that is not of
    the shape `is_subscription_id` accepts, behave exactly like one that does not exist
    (`NotFoundError`), so ids reveal nothing across users. The store checks no rules: the alert
    service validates a subscription before it is stored.
    """

    async def create_within_limit(
        self, subscription: AlertSubscription, *, max_per_user: int
    ) -> AlertSubscription | None:
        """Store a new subscription of ``subscription.user`` unless that user already has `max_per_user`.

        Counting and inserting are one atomic step: concurrent calls for one user never leave it with
        more than `max_per_user` subscriptions (PostgreSQL serialises them with a per-user advisory
        lock held by the inserting transaction).

        Args:
            subscription: The subscription to store; its `subscription_id` and `create_ns` are ignored
                and assigned here.
            max_per_user: Most subscriptions the user may hold once this one is stored.

        Returns:
            The subscription as stored, with its id and creation time; None, storing nothing, when the
            user already holds `max_per_user` or more.
        """
        ...

    async def list(self, user: str) -> tuple[AlertSubscription, ...]:
        """The subscriptions of `user`, oldest first."""
        ...

    async def get(self, user: str, subscription_id: str) -> AlertSubscription:
        """One subscription of `user`; `NotFoundError` for another user's, an unknown or a malformed id."""
        ...

    async def delete(self, user: str, subscription_id: str) -> None:
        """Delete one subscription of `user`; `NotFoundError` as for `get`."""
        ...

    async def all_subscriptions(self) -> tuple[AlertSubscription, ...]:
        """Every user's subscriptions, oldest first (to load the alert router)."""
        ...
