"""The alert subscription rules: validate, check the per-user limit, store, and activate for routing."""

from __future__ import annotations

from tickstock_server.alerts.router import AlertRouter
from tickstock_server.domain.alerts import AlertLimits, AlertSubscription, validate_alert_subscription
from tickstock_server.errors import FieldViolation, InvalidRequestError, LimitExceededError, NotFoundError
from tickstock_server.ports.alerts import AlertStore
from tickstock_server.ports.universes import UniverseResolver

_FIELD = "subscription"
"""Path prefix of the violations: the request's field that holds the subscription."""


class AlertService:
    """Creates, lists and deletes users' alert subscriptions, keeping the alert router in step."""

    def __init__(
        self,
        *,
        store: AlertStore,
        universes: UniverseResolver,
        router: AlertRouter,
        limits: AlertLimits | None = None,
    ) -> None:
        """Use `store` for the subscriptions, `universes` to check universe names, `router` to route.

        Args:
            store: Where subscriptions are kept.
            universes: Tells whether a universe exists.
            router: Routes patterns to the active subscriptions.
            limits: Per-user and list-size bounds; defaults when omitted.
        """
        self._store = store
        self._universes = universes
        self._router = router
        self._limits = limits or AlertLimits()

    async def create(self, subscription: AlertSubscription) -> AlertSubscription:
        """Validate and store a new subscription of ``subscription.user`` and start routing to it.

        Args:
            subscription: The requested subscription; its `subscription_id` and `create_ns` are ignored.

        Returns:
            The subscription as stored, with its id and creation time.

        Raises:
            InvalidRequestError: Every invalid field (``subscription.time_zone``,
                ``subscription.symbols[2]``, ...), including universes that do not exist.
            LimitExceededError: The user already has the most subscriptions allowed.
            DependencyUnavailableError: The store or the universes are unreachable.
        """
        violations = validate_alert_subscription(subscription, limits=self._limits, field=_FIELD)
        # Names with bad syntax are reported as such; asking whether they exist would only add noise.
        if subscription.universes and not any(v.field.startswith(f"{_FIELD}.universes") for v in violations):
            violations += await _unknown_universes(self._universes, subscription.universes)
        if violations:
            raise InvalidRequestError(violations)
        limit = self._limits.max_subscriptions_per_user
        # The store counts and inserts atomically, so concurrent creates cannot pass the limit together.
        stored = await self._store.create_within_limit(subscription, max_per_user=limit)
        if stored is None:
            raise LimitExceededError(f"a user may have at most {limit} alert subscriptions")
        await self._router.activate(stored)
        return stored

    async def list(self, user: str) -> tuple[AlertSubscription, ...]:
        """The subscriptions of `user`, oldest first.

        Raises:
            DependencyUnavailableError: The store is unreachable.
        """
        return await self._store.list(user)

    async def delete(self, user: str, subscription_id: str) -> None:
        """Delete one subscription of `user` and stop routing to it.

        Raises:
            NotFoundError: No such subscription of `user` (including another user's, and malformed ids).
            DependencyUnavailableError: The store is unreachable.
        """
        await self._store.delete(user, subscription_id)
        self._router.remove(subscription_id)


async def _unknown_universes(resolver: UniverseResolver, universes: tuple[str, ...]) -> list[FieldViolation]:
    try:
        await resolver.resolve(universes)
    except NotFoundError:
        pass
    else:
        return []
    # Then one name at a time, so each unknown one is reported at its own index.
    violations: list[FieldViolation] = []
    for index, name in enumerate(universes):
        try:
            await resolver.resolve([name])
        except NotFoundError:
            violations.append(FieldViolation(f"{_FIELD}.universes[{index}]", f"unknown universe {name!r}"))
    return violations
