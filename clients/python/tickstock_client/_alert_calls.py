"""The `AsyncClient` methods of PatternService's alerts: subscriptions and the alert stream."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import time, timedelta
from typing import Any

from google.protobuf import duration_pb2

from tickstock.v1 import pattern_service_pb2, pattern_service_pb2_grpc
from tickstock_client._pattern_models import AlertItem, AlertSubscription
from tickstock_client._pattern_proto import (
    alert_from_proto,
    alert_subscription_from_proto,
    alerts_suppressed_from_proto,
    quiet_hours_to_proto,
)
from tickstock_client._streaming import reopening

__all__ = ["AlertCalls"]


class AlertCalls:
    """Mixed into `AsyncClient`, which provides the stub, the metadata and `_call`."""

    _patterns: pattern_service_pb2_grpc.PatternServiceAsyncStub
    _metadata: tuple[tuple[str, str], ...]
    _call: Callable[..., Awaitable[Any]]

    async def create_alert_subscription(
        self,
        *,
        pattern_types: tuple[str, ...] | list[str] = (),
        symbols: tuple[str, ...] | list[str] = (),
        universes: tuple[str, ...] | list[str] = (),
        min_confidence: float = 0.0,
        quiet_hours: tuple[time, time] | None = None,
        time_zone: str = "UTC",
        max_alerts_per_hour: int | None = None,
    ) -> AlertSubscription:
        """A new alert subscription of this user; empty lists select every pattern type and symbol.

        Args:
            pattern_types: Pattern names, e.g. "Bull_Flag".
            symbols: Tickers; combined with the members of `universes`.
            universes: Universe names, e.g. "sp500".
            min_confidence: Least confidence of an alerted pattern, 0 to 1.
            quiet_hours: (start, end), whole minutes of local time in `time_zone`; an end before the
                start crosses midnight. No alerts are delivered in between (they are counted instead).
            time_zone: IANA name of the quiet hours' zone, e.g. "America/New_York".
            max_alerts_per_hour: 1 to 1000; None leaves the server's default (50).

        Raises:
            ValueError: A quiet hours time has seconds or a tzinfo (before anything is sent).
            InvalidArgumentError: The server refused a field (see its `field_violations`).
            ResourceExhaustedError: This user has as many subscriptions as allowed.
        """
        subscription = pattern_service_pb2.AlertSubscription(
            pattern_types=pattern_types,
            symbols=symbols,
            universes=universes,
            min_confidence=min_confidence,
            quiet_hours=quiet_hours_to_proto(quiet_hours) if quiet_hours is not None else None,
            time_zone=time_zone,
            max_alerts_per_hour=max_alerts_per_hour or 0,
        )
        request = pattern_service_pb2.CreateAlertSubscriptionRequest(subscription=subscription)
        answer = await self._call(self._patterns.CreateAlertSubscription, request, idempotent=False)
        return alert_subscription_from_proto(answer.subscription)

    async def list_alert_subscriptions(self) -> list[AlertSubscription]:
        """The alert subscriptions of this user, oldest first."""
        request = pattern_service_pb2.ListAlertSubscriptionsRequest()
        answer = await self._call(self._patterns.ListAlertSubscriptions, request, idempotent=True)
        return [alert_subscription_from_proto(subscription) for subscription in answer.subscriptions]

    async def delete_alert_subscription(self, subscription_id: str) -> None:
        """Delete one of this user's alert subscriptions; NotFoundError when there is none of that id."""
        request = pattern_service_pb2.DeleteAlertSubscriptionRequest(subscription_id=subscription_id)
        # Not retried: a retry after a delete that went through would report NOT_FOUND.
        await self._call(self._patterns.DeleteAlertSubscription, request, idempotent=False)

    async def stream_alerts(
        self, *, heartbeat_interval: timedelta = timedelta(seconds=5)
    ) -> AsyncGenerator[AlertItem, None]:
        """Alerts of this user, and notices of alerts withheld, reconnecting after interruptions.

        It opens a new stream after UNAVAILABLE (with backoff), after the server ends the stream, and
        after a stall (nothing, not even a heartbeat, for twice `heartbeat_interval`, 1 s to 60 s).
        Alert streams have no positions: alerts raised while it reconnects are not replayed.
        """
        interval = duration_pb2.Duration()
        interval.FromTimedelta(heartbeat_interval)
        request = pattern_service_pb2.StreamAlertsRequest(heartbeat_interval=interval)
        responses = reopening(
            lambda: self._patterns.StreamAlerts(request, metadata=self._metadata),
            stall=2 * heartbeat_interval,
            what="alert stream",
        )
        async with contextlib.aclosing(responses):
            async for response in responses:
                kind = response.WhichOneof("payload")
                if kind == "alert":
                    yield alert_from_proto(response.alert)
                elif kind == "suppressed":
                    yield alerts_suppressed_from_proto(response.suppressed)
